# MPICH's Hydra (mpiexec), its stdout filtered by scripts/mpirun. Its "BAD TERMINATION" box
# (between lines of '=') names the process by PID, not rank. When the EXIT STRING line right
# after it names a signal, box and trailer become one explanation on stderr (rank_died,
# rank-died.awk) and awk exits with the signal's number (scripts/mpirun then exits with
# 128 + it, as Open MPI does). A box followed by other output is kept as it is; one that ends
# the output (a rank's non-zero exit: the binary already said why) goes. Blank lines wait for
# the next line printed, so that none is left over where a box went.
/^=+$/ { if (inbox) { inbox = 0; after = 1 } else { inbox = 1; n = 0; pid = "?"; host = "?" }; box[++n] = $0; next }
inbox { box[++n] = $0; if (match($0, /PID [0-9]+ RUNNING AT [^ ]+/)) { split(substr($0, RSTART, RLENGTH), w, " "); pid = w[2]; host = w[5] }; next }
after && /EXIT STRING: .*\(signal [0-9]+\)/ {
  s = $0; sub(/.*EXIT STRING: /, "", s)
  num = s; sub(/.*\(signal /, "", num); sub(/\).*/, "", num)
  name = s; sub(/ *\(signal.*/, "", name)
  fflush()
  printf "%s", rank_died("a rank (PID " pid ")", host, num " (" name ")", 1) > "/dev/stderr"
  fflush("/dev/stderr")
  after = 0; skip = 2; code = num; next
}
after { while (blank > 0) { print ""; blank-- }; for (i = 1; i <= n; i++) print box[i]; after = 0 }
skip > 0 && /^(This typically refers|Please see the FAQ)/ { skip--; next }
/^$/ { blank++; next }
{ while (blank > 0) { print ""; blank-- }; print; fflush() }
END { exit code }
