"""pair tensorml in LAMMPS workflows: groups and compute reduce, rerun, restart, minimize, PIMD partitions."""

from __future__ import annotations

import numpy as np
import pytest

from engines import (
    APT_COLS,
    APTV_COLS,
    assert_close,
    frame_system,
    lammps_per_ps,
    read_ave_time,
    read_dump,
    run_lammps,
    write_data,
)

pytestmark = pytest.mark.lammps

HEAD = """
units           metal
atom_style      atomic
atom_modify     map yes
read_data       data.lmp
pair_style      tensorml {model}
pair_coeff      * * O H
"""


def cubic(atoms):
    return np.diag(np.diag(atoms.cell.array))


@pytest.mark.mpi
def test_groups_reduce_and_sum_rules(tmp_path, model_path, exported, box):
    """dM/dt of a group = sum of its APT_i v_i; O + H groups = all; compute reduce gives the acoustic sum rule."""
    write_data(box, tmp_path / "data.lmp")
    script = (
        HEAD.format(model=model_path)
        + """
group           oxygen type 1
group           hydrogen type 2
compute         p all tensorml/props
compute         po oxygen tensorml/props dipole polarizability dmdt
compute         ph hydrogen tensorml/props dmdt
compute         asr all reduce sum c_p[1] c_p[2] c_p[3] c_p[4] c_p[5] c_p[6] c_p[7] c_p[8] c_p[9]
compute         mv all reduce sum c_p[10] c_p[11] c_p[12]
fix             g all ave/time 5 1 5 c_p[13] c_p[14] c_p[15] c_po[13] c_po[14] c_po[15] &
                c_ph[1] c_ph[2] c_ph[3] c_asr[*] c_mv[*] c_po[1] c_p[1] file g.dat format " %.17g"
dump            d all custom 5 atoms.dump id type xu yu zu vx vy vz {aptv}
dump_modify     d format float %.17g sort id
velocity        all create 600.0 4 dist gaussian
fix             nve all nve
timestep        0.0005
run             10
""".format(aptv=" ".join(APTV_COLS))
    )
    proc = run_lammps(tmp_path, script, nprocs=2)
    assert "dmdt_x (group)" in proc.stdout  # the log says which columns the group restricts
    assert "compute tensorml/props ph columns:\n  global vector: [1] dmdt_x (group)" in proc.stdout
    rows = read_ave_time(tmp_path / "g.dat")
    frames = read_dump(tmp_path / "atoms.dump")
    oxygen = np.array([s == "O" for s in box.get_chemical_symbols()])
    for row, frame in zip(rows, frames):
        total, o, h, asr, mv = row[1:4], row[4:7], row[7:10], row[10:19], row[19:22]
        ref = exported.evaluate_one(frame_system(frame, cubic(box)), ["dmdt", "apt_velocity", "dipole"])
        assert_close(total, lammps_per_ps(ref["dmdt"]), "dM/dt all")
        assert_close(o, lammps_per_ps(ref["apt_velocity"][oxygen].sum(0)), "dM/dt oxygen", rtol=1e-7)
        assert_close(o + h, total, "groups add up")
        assert_close(mv, total, "sum_i APT_i v_i = dM/dt")
        np.testing.assert_allclose(asr, 0.0, atol=1e-10)  # neutral water: sum_i APT_i = 0
        assert row[22] == pytest.approx(row[23], rel=1e-14)  # the dipole is whole-system for any group
        assert_close(np.stack([frame[c] for c in APTV_COLS], 1), lammps_per_ps(ref["apt_velocity"]), "APT_i v_i")


def test_rerun_gives_properties_along_a_trajectory(tmp_path, model_path, exported, box):
    """The APTNN use case: properties a posteriori along a trajectory made by another force field."""
    write_data(box, tmp_path / "data.lmp")
    run_lammps(
        tmp_path,
        """
units           metal
atom_style      atomic
read_data       data.lmp
pair_style      lj/cut 3.0
pair_coeff      * * 0.01 0.8
velocity        all create 900.0 7 dist gaussian
fix             nve all nve
timestep        0.001
dump            t all custom 10 traj.dump id type x y z ix iy iz vx vy vz
dump_modify     t format float %.17g
run             40
""",
    )
    script = (
        HEAD.format(model=model_path)
        + """
compute         p all tensorml/props
fix             g all ave/time 10 1 10 c_p[1] c_p[2] c_p[3] c_p[13] c_p[14] c_p[15] file rerun.dat format " %.17g"
rerun           traj.dump dump x y z ix iy iz vx vy vz
"""
    )
    run_lammps(tmp_path, script.replace("atom_modify     map yes\n", ""))
    rows = read_ave_time(tmp_path / "rerun.dat")
    traj = read_dump(tmp_path / "traj.dump")
    assert [int(r[0]) for r in rows] == [f["step"] for f in traj] == [0, 10, 20, 30, 40]
    length = np.diag(box.cell.array)
    for row, frame in zip(rows, traj):
        for k, (x, i) in enumerate([("x", "ix"), ("y", "iy"), ("z", "iz")]):
            frame[x + "u"] = frame[x] + frame[i] * length[k]
        ref = exported.evaluate_one(frame_system(frame, cubic(box)), ["dipole", "dmdt"])
        assert_close(row[1:4], ref["dipole"], "dipole")
        assert_close(row[4:7], lammps_per_ps(ref["dmdt"]), "dM/dt")


def test_restart_keeps_the_pair_style(tmp_path, model_path, box):
    write_data(box, tmp_path / "data.lmp")
    first = (
        HEAD.format(model=model_path)
        + """
velocity        all create 300.0 11 dist gaussian
fix             nve all nve
timestep        0.0005
run             10
write_restart   state.restart
compute         p all tensorml/props
variable        pe equal pe
fix             g all ave/time 1 1 1 v_pe c_p[1] c_p[2] c_p[3] file before.dat format " %.17g"
run             0
"""
    )
    run_lammps(tmp_path, first)
    second = """
units           metal
read_restart    state.restart
compute         p all tensorml/props
variable        pe equal pe
fix             g all ave/time 1 1 1 v_pe c_p[1] c_p[2] c_p[3] file after.dat format " %.17g"
run             0
"""
    proc = run_lammps(tmp_path, second)
    assert "pair tensorml: model" in proc.stdout  # the restart recreated and loaded it
    np.testing.assert_allclose(
        read_ave_time(tmp_path / "after.dat"), read_ave_time(tmp_path / "before.dat"), rtol=1e-12
    )


def test_minimize_with_properties(tmp_path, model_path, box):
    write_data(box, tmp_path / "data.lmp")
    script = (
        HEAD.format(model=model_path)
        + """
compute         p all tensorml/props
thermo_style    custom step pe c_p[1] c_p[2] c_p[3]
thermo_modify   format float %.12g
thermo          2
minimize        1.0e-8 1.0e-10 8 80  # the reference model has no repulsion: longer collapses H atoms
"""
    )
    proc = run_lammps(tmp_path, script)
    lines = proc.stdout.split("Step")[1].split("Loop time")[0].strip().splitlines()[1:]
    table = np.array([[float(x) for x in line.split()] for line in lines])
    assert table.shape[0] >= 3 and table[-1, 1] < table[0, 1] - 1.0  # the energy went down
    assert np.all(np.isfinite(table[:, 2:5])) and np.abs(table[-1, 2:5] - table[0, 2:5]).max() > 1e-3


@pytest.mark.mpi
def test_pimd_partitions_give_per_bead_properties(tmp_path, model_path, exported, box):
    """fix pimd/langevin on 2 partitions: each bead reports the properties of its own positions."""
    write_data(box, tmp_path / "data.lmp")
    script = (
        HEAD.format(model=model_path)
        + """
variable        ibead world 0 1
compute         p all tensorml/props
fix             pimd all pimd/langevin ensemble nvt temp 300.0 thermostat PILE_L 1234 tau 0.1
fix             g all ave/time 5 1 5 c_p[1] c_p[2] c_p[3] file dip_${{ibead}}.dat format " %.17g"
dump            d all custom 5 bead_${{ibead}}.dump id type xu yu zu vx vy vz {apt}
dump_modify     d format float %.17g sort id
timestep        0.0005
run             10
""".format(apt=" ".join(APT_COLS))
    )
    (tmp_path / "in.test").write_text(script)
    import subprocess

    from engines import tool

    proc = subprocess.run(
        [tool("mpirun"), "-np", "2", tool("lmp"), "-partition", "2x1", "-in", "in.test", "-log", "log.lammps"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + (tmp_path / "log.lammps.0").read_text()[-3000:]
    beads = []
    for bead in (0, 1):
        rows = read_ave_time(tmp_path / f"dip_{bead}.dat")
        frames = read_dump(tmp_path / f"bead_{bead}.dump")
        for row, frame in zip(rows, frames):
            ref = exported.evaluate_one(frame_system(frame, cubic(box)), ["dipole", "apt"])
            assert_close(row[1:4], ref["dipole"], f"bead {bead} dipole")
            assert_close(np.stack([frame[c] for c in APT_COLS], 1).reshape(-1, 3, 3), ref["apt"], "bead apt")
        beads.append(rows[-1, 1:4])
    assert np.abs(beads[0] - beads[1]).max() > 1e-4  # the beads are different configurations


def test_property_list_selects_columns(tmp_path, model_path, box):
    write_data(box, tmp_path / "data.lmp")
    proc = run_lammps(
        tmp_path,
        HEAD.format(model=model_path)
        + """
compute         a all tensorml/props apt dipole
compute         b all tensorml/props dmdt
thermo_style    custom step c_a[1] c_b[1]
run             0
""",
    )
    assert "global vector: [1] dipole_x [2] dipole_y [3] dipole_z\n  per-atom array: [1] apt_xx" in proc.stdout
    assert "compute tensorml/props b columns:\n  global vector: [1] dmdt_x [2] dmdt_y [3] dmdt_z\n" in proc.stdout
    bad = run_lammps(tmp_path, HEAD.format(model=model_path) + "compute c all tensorml/props quadrupole\n", check=False)
    assert bad.returncode != 0 and "provides no property 'quadrupole'" in bad.stdout


def test_a_second_run_at_the_same_step_does_not_reuse_old_values(tmp_path, model_path, exported, box):
    """run 0, move the atoms, run 0 again (same timestep): the per-atom APTs are those of the new positions.

    Values cached by the pair are keyed by the timestep; without clearing them in setup() the second run
    read the first run's APTs (and, after create_atoms, past the end of their buffer: found by ASan)."""
    write_data(box, tmp_path / "data.lmp")
    cols = " ".join(APT_COLS)
    script = (
        HEAD.format(model=model_path)
        + f"""
compute         p all tensorml/props apt
dump            d1 all custom 1 first.dump id type xu yu zu {cols}
dump_modify     d1 format float %.17g sort id
run             0
undump          d1
displace_atoms  all random 0.1 0.1 0.1 4711 units box
dump            d2 all custom 1 second.dump id type xu yu zu {cols}
dump_modify     d2 format float %.17g sort id
run             0
"""
    )
    run_lammps(tmp_path, script)
    first, second = read_dump(tmp_path / "first.dump")[0], read_dump(tmp_path / "second.dump")[0]
    assert second["step"] == first["step"] == 0
    apt = np.stack([second[c] for c in APT_COLS], 1).reshape(-1, 3, 3)
    ref = exported.evaluate_one(frame_system(second, cubic(box), velocities=False), ["apt"])
    assert_close(apt, ref["apt"], "APT after displace_atoms")
    assert not np.allclose(apt, np.stack([first[c] for c in APT_COLS], 1).reshape(-1, 3, 3))


def test_restart_under_hybrid_overlay_needs_the_pair_coeff_lines_again(tmp_path, model_path, box):
    """As docs/lammps.md says: LAMMPS restores hybrid substyles without their coefficients."""
    write_data(box, tmp_path / "data.lmp")
    hybrid = """
pair_coeff      * * lj/cut 0.01 0.8
pair_coeff      * * tensorml O H
"""
    first = f"""
units           metal
atom_style      atomic
read_data       data.lmp
pair_style      hybrid/overlay lj/cut 3.0 tensorml {model_path} properties_only yes
{hybrid}
compute         p all tensorml/props dipole
thermo_style    custom step pe c_p[1]
thermo_modify   format float %.15g
run             0
write_restart   state.restart
"""
    before = run_lammps(tmp_path, first).stdout
    second = """
units           metal
read_restart    state.restart
{coeffs}
compute         p all tensorml/props dipole
thermo_style    custom step pe c_p[1]
thermo_modify   format float %.15g
run             0
"""
    missing = run_lammps(tmp_path, second.format(coeffs=""), check=False)
    assert missing.returncode != 0 and "All pair coeffs are not set" in missing.stdout + missing.stderr
    after = run_lammps(tmp_path, second.format(coeffs=hybrid)).stdout

    def row(out):
        return out.split("Step")[1].splitlines()[1].split()

    assert row(after) == row(before)


IMAGES = """
compute         p all tensorml/props dipole
thermo_style    custom step c_p[1]
{before}
run             0
{between}
run             0
"""


@pytest.mark.parametrize(
    "before, between, message",
    [
        # 1e6 angstrom = 107527 box lengths: the 10-bit x flag wraps to 6, a 6-image jump in no time
        ("", "displace_atoms  one move 1.0e6 0 0 units box", "atom 1 has image flag 6 in x at step 0, 0 one step"),
        ("set atom 1 image 0 511 0", "", "atom 1 has image flag 511 in y at step 0, the end of the range"),
        ("set atom 2 image 0 0 -300", "set atom 2 image 0 0 -512", "atom 2 has image flag -512 in z"),
    ],
)
def test_image_flags_that_overflow_stop_the_run(tmp_path, model_path, box, before, between, message):
    """LAMMPS' image flags hold -512..511: an atom driven past them would unwrap 1024 box lengths off."""
    write_data(box, tmp_path / "data.lmp")
    script = HEAD.format(model=model_path) + "group one id 1\n" + IMAGES.format(before=before, between=between)
    proc = run_lammps(tmp_path, script, check=False)
    assert proc.returncode != 0 and message in proc.stdout + proc.stderr, (proc.stdout + proc.stderr)[-3000:]
    assert "periodic images at once" in proc.stdout + proc.stderr or "end of the range" in proc.stdout + proc.stderr


def test_image_flags_reset_between_runs_are_accepted(tmp_path, model_path, box):
    """'set ... image 0 0 0' between runs is a deliberate reset, not an overflow."""
    write_data(box, tmp_path / "data.lmp")
    script = HEAD.format(model=model_path) + IMAGES.format(
        before="set atom 1 image 300 0 0", between="set atom 1 image 0 0 0"
    )
    run_lammps(tmp_path, script)
