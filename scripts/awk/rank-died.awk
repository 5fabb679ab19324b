# What a user who killed a rank must read; the launcher filters (openmpi-output.awk,
# hydra-output.awk) print it, scripts/mpirun giving this file first. WHO ("rank 2", or
# "a rank (PID 123)" where the launcher names no rank) on HOST was killed by SIG ("9 (Killed)");
# RANK goes into the --crash example.
function rank_died(who, host, sig, rank) {
  return "error: " who " on host " host " was killed by signal " sig ", and MPI ended the whole job: MPI stops every process of a job when one of them dies, so the other ranks could not finish or report. To crash a rank and watch the algorithm survive it, use --crash RANK@MS (e.g. --crash " rank "@100): the rank stops inside the run, the others detect it and finish, and the checks say what held.\n"
}
