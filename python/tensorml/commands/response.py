"""tensorml response: response properties of a molecule from an eMLP model (seed appendix A)."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser(
        "response",
        help="eMLP response properties of a molecule (polarizability, IR) or a crystal (dielectric, "
        "stiffness, piezoelectric tensors)",
        description="Relax the electron pairs of STRUCTURE with the eMLP model MODEL and print the energy, "
        "dipole and the response properties from autograd Hessians (eMLP seed appendix A).  Molecules: "
        "electronic polarizability (pairs relaxed, cores clamped) and, at a minimum of the cores, the "
        "polarizability with core relaxation and the IR frequencies and intensities.  Crystals (3D-periodic "
        "STRUCTURE): ion-clamped dielectric, stiffness and proper piezoelectric tensors and, at a minimum of "
        "the cores, their relaxed-ion counterparts and the piezoelectric strain constants (eqs. 39, 41-45).  "
        "Electron pairs are read from 'X' atoms in STRUCTURE or guessed from a Lewis structure.",
    )
    p.add_argument("model", help="eMLP model file (tensorml.emlp.export)")
    p.add_argument("structure", help="molecule readable by ASE (xyz, extxyz, ...); 'X' atoms = electron pairs")
    p.add_argument("--charge", type=int, default=0, help="total charge in e (default 0)")
    p.add_argument("--optimize", action="store_true", help="first minimise cores and pairs together")
    p.add_argument("--fmax", type=float, default=1e-5, help="pair-force tolerance in eV/angstrom (default 1e-5)")
    p.add_argument(
        "--core-fmax",
        type=float,
        default=1e-2,
        help="largest core force (eV/angstrom) for which vibrational properties are reported",
    )
    p.set_defaults(func=run)


def run(args) -> int:
    import numpy as np
    from ase.io import read
    from ase.units import Bohr, Debye

    from ..data.keys import ELECTRON_PAIR_SYMBOL
    from ..emlp.evaluate import make_inputs
    from ..emlp.export import load_emlp
    from ..emlp.lewis import lewis_pairs
    from ..emlp.relax import optimize_structure, relax_pairs
    from ..emlp.response import electronic_polarizability, extended_hessian, ir_spectrum, relaxed_polarizability

    model, _ = load_emlp(args.model)
    atoms = read(args.structure)
    if atoms.pbc.any() and not atoms.pbc.all():
        raise ValueError(f"{args.structure} has pbc {atoms.pbc.tolist()}: give a molecule or a 3D-periodic crystal")
    periodic = bool(atoms.pbc.all())
    cell = np.asarray(atoms.cell[:]) if periodic else None
    is_pair = np.array(atoms.get_chemical_symbols()) == ELECTRON_PAIR_SYMBOL
    cores = atoms.positions[~is_pair]
    numbers = atoms.numbers[~is_pair]
    pairs = atoms.positions[is_pair] if is_pair.any() else lewis_pairs(cores, numbers, args.charge)
    source = "from the file" if is_pair.any() else "from a Lewis guess"
    if args.optimize:
        cores, pairs = optimize_structure(model, cores, numbers, pairs, cell, atoms.pbc, fmax=min(args.fmax, 1e-4))
    result = relax_pairs(model, cores, numbers, pairs, cell, atoms.pbc if periodic else None, fmax=args.fmax)
    d = result.dipole
    print(f"structure: {args.structure}, {len(cores)} cores, {len(result.pairs)} electron pairs ({source})")
    print(f"relaxation: {result.iterations} iterations, max pair force {result.max_pair_force:.2e} eV/angstrom")
    print(f"energy: {result.energy:.6f} eV")
    print(f"dipole: {d[0]:.5f} {d[1]:.5f} {d[2]:.5f} e*angstrom  (|d| = {np.linalg.norm(d) / Debye:.4f} Debye)")

    def tensor(name, a):
        print(
            f"{name} (angstrom^3; isotropic {np.trace(a) / 3:.4f} angstrom^3 = {np.trace(a) / 3 / Bohr**3:.4f} bohr^3):"
        )
        for row in a:
            print("  " + "  ".join(f"{v:12.5f}" for v in row))

    max_core = float(np.linalg.norm(result.core_forces, axis=1).max())
    if periodic:
        return _crystal(
            model,
            make_inputs(model, cores, numbers, result.pairs, cell, atoms.pbc),
            max_core <= args.core_fmax,
            max_core,
            args.core_fmax,
        )
    blocks = extended_hessian(model, make_inputs(model, cores, numbers, result.pairs))
    tensor("electronic polarizability, pairs relaxed, cores clamped", electronic_polarizability(blocks))
    if max_core > args.core_fmax:
        print(
            f"max core force {max_core:.3g} eV/angstrom > {args.core_fmax}: not a minimum of the cores, so no "
            "core-relaxed polarizability or IR spectrum (use --optimize)"
        )
        return 0
    tensor("polarizability with core relaxation", relaxed_polarizability(blocks))
    spectrum = ir_spectrum(blocks, numbers)
    print("IR modes: frequency (cm^-1, negative = imaginary), intensity (km/mol)")
    for k, (f, i) in enumerate(zip(spectrum.frequencies, spectrum.intensities)):
        print(f"  {k + 1:3d} {f:10.2f} {i:12.4f}")
    return 0


def _crystal(model, inputs, at_minimum: bool, max_core: float, core_fmax: float) -> int:
    """Print the crystal tensors of eqs. 39, 41-45 (relaxed-ion ones only at a minimum of the cores)."""
    import numpy as np

    from ..emlp.crystal import crystal_response

    r = crystal_response(model, inputs, relaxed_ions=at_minimum)

    def table(name, a):
        print(name)
        for row in np.atleast_2d(a):
            print("  " + "  ".join(f"{v:11.4f}" for v in row))

    voigt = "Voigt order xx yy zz yz xz xy"
    print(f"cell volume: {r.volume:.4f} angstrom^3")
    table("residual stress (GPa; the stiffness is the elastic tensor only when this vanishes):", r.stress_gpa)
    table("dielectric tensor, ion-clamped (electron pairs relax), dimensionless:", r.dielectric_clamped)
    table(f"stiffness, ion-clamped (GPa, {voigt}):", r.stiffness_clamped_gpa)
    table(f"proper piezoelectric tensor e, ion-clamped (C/m^2, {voigt}):", r.piezo_clamped_c_m2)
    if not at_minimum:
        print(
            f"max core force {max_core:.3g} eV/angstrom > {core_fmax}: not a minimum of the cores, so no "
            "relaxed-ion tensors (use --optimize)"
        )
        return 0
    table("dielectric tensor, relaxed ions (static), dimensionless:", r.dielectric_relaxed)
    table(f"stiffness, relaxed ions (GPa, {voigt}):", r.stiffness_relaxed_gpa)
    table(f"proper piezoelectric tensor e, relaxed ions (C/m^2, {voigt}):", r.piezo_relaxed_c_m2)
    table(
        f"piezoelectric strain constants d = e C^-1, relaxed ions (pC/N = pm/V, {voigt}, shear x2):",
        r.piezo_strain_pc_n,
    )
    return 0
