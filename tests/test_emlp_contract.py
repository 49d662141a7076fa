"""The eMLP as a contract model with explicit electrons (format 3) plus the engine's point charges
equals the eMLP of seed eq. 3: energy, forces on cores and pairs, dipole, for a molecule in a field
and for a periodic cell (converged Ewald)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from ase.build import molecule

from engines import THREE_WATERS_CELL, three_waters
from tensorml import contract
from tensorml.emlp.contract_model import PAIR_Z, correction_cutoff
from tensorml.emlp.export import export_contract, load_emlp_model
from tensorml.emlp.lewis import lewis_pairs
from tensorml.emlp.longrange import long_range_energy
from tensorml.runtime import ExportedModel, System

SHIPPED = Path(__file__).parents[1] / "models" / "emlp" / "model.pt"


@pytest.fixture(scope="module")
def emlp():
    return load_emlp_model(SHIPPED)


@pytest.fixture(scope="module")
def kspace_form(emlp, tmp_path_factory):
    path = tmp_path_factory.mktemp("contract") / "emlp_kspace.pt"
    export_contract(emlp, path, long_range="gaussian_kspace")
    return ExportedModel.load(path)


@pytest.fixture(scope="module")
def exported(emlp, tmp_path_factory):
    path = tmp_path_factory.mktemp("contract") / "emlp.pt"
    export_contract(emlp, path)
    return ExportedModel.load(path)


def reference(emlp, cores, numbers, pairs, cell, pbc, efield):
    """Energy (eV), forces on cores and pairs (eV/angstrom) of the eMLP itself (Gaussian electrostatics)."""
    x = torch.tensor(cores, dtype=torch.float64, requires_grad=True)
    p = torch.tensor(pairs, dtype=torch.float64, requires_grad=True)
    energy = emlp(
        x,
        torch.tensor(numbers),
        p,
        torch.tensor(cell, dtype=torch.float64),
        torch.tensor(pbc),
        torch.tensor(efield, dtype=torch.float64),
    )
    gx, gp = torch.autograd.grad(energy, [x, p])
    return float(energy.detach()), -np.concatenate([gx.numpy(), gp.numpy()])


def split(exported, cores, numbers, pairs, cell, pbc, efield):
    """The contract module's short range plus the point-charge long range of tensorml.emlp.longrange."""
    positions = np.concatenate([cores, pairs])
    z = np.concatenate([numbers, np.full(len(pairs), PAIR_Z)])
    system = System(z, positions, np.asarray(cell, float), np.asarray(pbc), efield=np.asarray(efield, float))
    out = exported.evaluate_one(system, ["energy", "forces", "dipole", "charges"])
    x = torch.tensor(positions, dtype=torch.float64, requires_grad=True)
    q = torch.tensor(out["charges"], dtype=torch.float64)
    table = exported.metadata["explicit_electrons"]["long_range"]
    lr = long_range_energy(
        table["kind"], x, q, torch.tensor(cell, dtype=torch.float64), torch.tensor(pbc), table["gaussian_gamma"], 1e-14
    )
    (g,) = torch.autograd.grad(lr, [x])
    return float(out["energy"]) + float(lr.detach()), out["forces"] - g.numpy(), out["dipole"], out["charges"]


def assert_split_equals_emlp(emlp, exported, cores, numbers, pairs, cell, pbc, efield):
    e_ref, f_ref = reference(emlp, cores, numbers, pairs, cell, pbc, efield)
    e, f, dipole, charges = split(exported, cores, numbers, pairs, cell, pbc, efield)
    assert e == pytest.approx(e_ref, rel=1e-6, abs=1e-6)
    np.testing.assert_allclose(f, f_ref, rtol=0, atol=1e-6 * np.abs(f_ref).max())
    positions = np.concatenate([cores, pairs])
    np.testing.assert_allclose(dipole, (charges[:, None] * positions).sum(0), atol=1e-12)
    np.testing.assert_allclose(charges[len(cores) :], -2.0)
    return e, f


def test_metadata_declares_the_explicit_electrons(exported, emlp):
    meta = exported.metadata
    assert meta["format_version"] == 3 and meta["species_symbols"][0] == "X" and meta["species"][0] == 0
    table = meta["explicit_electrons"]
    assert table["species"] == [0] and table["charge"] == -2.0
    assert table["long_range"]["gaussian_gamma"] == pytest.approx(emlp.gamma)
    # erfc(gamma r_c) = 1e-8: beyond r_c Gaussian and point charges agree
    assert meta["cutoff"] == pytest.approx(correction_cutoff(emlp.gamma)) and meta["cutoff"] > 10.0
    assert meta["halo"] >= len(emlp.short_range.interactions) * emlp.short_range.cutoff
    assert {"energy", "forces", "virial", "dipole", "charges"} <= set(meta["outputs"])


@pytest.mark.parametrize("name", ["CH3OH", "H2O", "NH3"])
def test_molecule_in_a_field(emlp, exported, name):
    mol = molecule(name)
    cores = mol.positions
    pairs = lewis_pairs(cores, mol.numbers) + np.random.default_rng(1).normal(0, 0.05, (1, 3))
    e, f = assert_split_equals_emlp(
        emlp, exported, cores, mol.numbers, pairs, np.zeros((3, 3)), [False] * 3, [0.02, -0.01, 0.03]
    )
    assert np.abs(f[len(cores) :]).max() > 1e-3, "unrelaxed pairs feel a force"


def test_periodic_cell_with_converged_ewald(emlp, exported):
    cores, numbers, pairs = three_waters()
    cell = np.diag(THREE_WATERS_CELL)
    assert_split_equals_emlp(emlp, exported, cores, numbers, pairs, cell, [True] * 3, [0.0, 0.0, 0.0])


def test_gaussian_kspace_form_of_a_periodic_cell(emlp, kspace_form):
    """No correction, SchNet's cutoff: the reciprocal Ewald sum at alpha = gamma is the Gaussian electrostatics."""
    assert kspace_form.metadata["cutoff"] == pytest.approx(emlp.short_range.cutoff)
    assert kspace_form.metadata["explicit_electrons"]["long_range"]["kind"] == "gaussian_kspace"
    cores, numbers, pairs = three_waters()
    field = [0.0, 0.0, 0.0]
    assert_split_equals_emlp(emlp, kspace_form, cores, numbers, pairs, np.diag(THREE_WATERS_CELL), [True] * 3, field)
    with pytest.raises(ValueError, match="for 3D-periodic cells"):
        split(kspace_form, cores, numbers, pairs, np.zeros((3, 3)), [False] * 3, field)


def test_explicit_electrons_need_format_3(exported):
    meta = dict(exported.metadata, format_version=2)
    with pytest.raises(contract.MetadataError, match="explicit_electrons needs format version 3"):
        contract.validate_metadata(meta)
    broken = dict(exported.metadata)
    broken["explicit_electrons"] = {k: v for k, v in broken["explicit_electrons"].items() if k != "relaxation"}
    with pytest.raises(contract.MetadataError, match="explicit_electrons lacks 'relaxation'"):
        contract.validate_metadata(broken)


def old_format(emlp, path):
    """The eMLP in the deprecated ``tensorml-emlp`` format (what train-emlp wrote before format 3)."""
    from tensorml.emlp.export import export_emlp

    export_emlp(emlp, path)
    return path


def test_tensorml_export_converts_an_old_emlp_file(emlp, tmp_path, capsys):
    from tensorml.cli import main

    old = old_format(emlp, tmp_path / "old.pt")
    with pytest.warns(FutureWarning, match="old eMLP format 'tensorml-emlp', read for this release only"):
        assert main(["export", str(old), "-o", str(tmp_path / "new.pt")]) == 0
    assert "contract model with explicit electrons (format version 3" in capsys.readouterr().out
    assert ExportedModel.load(tmp_path / "new.pt").metadata["explicit_electrons"]["species"] == [0]
    assert main(["info", str(tmp_path / "new.pt")]) == 0
    out = capsys.readouterr().out
    assert "relaxed species X" in out and "X -2, H +1, C +4, N +5, O +6" in out
    # a format-3 file in the other long-range form
    assert (
        main(["export", str(tmp_path / "new.pt"), "-o", str(tmp_path / "k.pt"), "--long-range", "gaussian_kspace"]) == 0
    )
    table = ExportedModel.load(tmp_path / "k.pt").metadata["explicit_electrons"]["long_range"]
    assert table["kind"] == "gaussian_kspace" and table["correction_cutoff"] == pytest.approx(4.0)


def test_whole_system_engines_read_the_contract_form(emlp, tmp_path):
    """i-PI driver and ASE load the format-3 file through the eMLP engine: same relaxed energy as the old file."""
    from tensorml.emlp.export import load_emlp_model as rebuild
    from tensorml.runtime import load_model

    path = tmp_path / "c.pt"
    export_contract(emlp, path)
    again = rebuild(path)
    mol = molecule("CH3OH")
    pairs = lewis_pairs(mol.positions, mol.numbers)
    args = (mol.positions, mol.numbers, pairs, np.zeros((3, 3)), [False] * 3, [0.01, 0.0, 0.0])
    assert reference(again, *args)[0] == pytest.approx(reference(emlp, *args)[0], rel=1e-12)
    old, new = load_model(old_format(emlp, tmp_path / "old.pt")), load_model(path)
    assert type(old) is type(new)
    system = System(mol.numbers, mol.positions, np.zeros((3, 3)), np.zeros(3, bool))
    e_old = old.evaluate([system], ["energy"])[0]["energy"]
    e_new = new.evaluate([system], ["energy"])[0]["energy"]
    assert float(e_new) == pytest.approx(float(e_old), rel=1e-9, abs=1e-6)


def test_schnet_skips_only_the_ghosts_no_local_energy_needs(emlp):
    """A domain's graph (40 local particles of 300): the pruned layers give the local energies and every
    force of the full graph; a domain of 20 gives different energies to particles 20-39 (it pruned
    what they need), so the comparison can fail."""
    torch.manual_seed(0)
    # a 40 x 10 x 10 angstrom slab, particles ordered along x: the 40 "local" ones sit at one end
    x = torch.rand(300, 3, dtype=torch.float64) * torch.tensor([40.0, 10.0, 10.0], dtype=torch.float64)
    x = x[torch.argsort(x[:, 0])].requires_grad_(True)
    species = torch.randint(0, 5, (300,))
    r = (x[None] - x[:, None]).norm(dim=-1).detach()
    i, j = torch.nonzero((r < 4.0) & (r > 0), as_tuple=True)
    net = emlp.short_range

    def local(n_local):
        e = net.edge_energies(species, i, j, x[j] - x[i], n_local)[:40].sum()
        return e, torch.autograd.grad(e, [x])[0]

    (e_full, f_full), (e_pruned, f_pruned) = local(-1), local(40)
    assert float(e_pruned.detach()) == pytest.approx(float(e_full.detach()), rel=1e-13)
    torch.testing.assert_close(f_pruned, f_full, rtol=0, atol=1e-12)
    masks = net.needed_receivers(i, j, 300, 40)
    assert len(masks) == 3 and masks[0].sum() > masks[1].sum() > masks[2].sum() > 0
    assert int(masks[0].sum()) < len(i)  # something is skipped
    assert abs(float(local(20)[0].detach()) - float(e_full.detach())) > 1e-6
