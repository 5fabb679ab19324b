# Open MPI's mpirun, its stderr filtered by scripts/mpirun (rather than `-q`, which also hides a
# rank's death). Its messages come boxed between lines of dashes, each box held until it
# closes: the "a process returned a non-zero exit code" boxes go (the binary already said
# why), a rank killed by a signal becomes one explanation (rank_died, rank-died.awk), any other
# box is kept as it is. Every other line passes at once.
/^--------------------+$/ { if (inbox) { flush(); inbox = 0 } else { inbox = 1; n = 0 }; next }
inbox { box[++n] = $0; next }
{ print; fflush() }
function flush(   i, all, m, w, sig) {
  # Open MPI wraps its lines: match on the box as one line.
  all = ""
  for (i = 1; i <= n; i++) all = all " " box[i]
  if (all ~ /returned[ \t]+a non-zero exit code/ || all ~ /Primary job +terminated normally/ || all ~ /exited with non-zero status/) return
  if (match(all, /process rank [0-9]+ with PID [0-9]+ on node [^ ]+ exited on signal [0-9]+ \([^)]*\)/)) {
    m = substr(all, RSTART, RLENGTH)
    split(m, w, " ")
    sig = m; sub(/.*exited on signal /, "", sig)
    fflush()
    printf "%s", rank_died("rank " w[3], w[9], sig, w[3])
    fflush()
    return
  }
  print "--------------------------------------------------------------------------"
  for (i = 1; i <= n; i++) print box[i]
  print "--------------------------------------------------------------------------"
  fflush()
}
# A box cut off by the end (the launcher itself killed): what there is of it.
END { if (inbox) { for (i = 1; i <= n; i++) print box[i] } }
