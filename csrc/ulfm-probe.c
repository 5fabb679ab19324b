/* Does this MPI let the survivors of a real process death go on (User-Level Failure
 * Mitigation)? Rank 2 kills itself with SIGKILL; the others, with MPI_ERRORS_RETURN, wait in a
 * barrier that must fail, revoke, shrink the communicator and reduce over the survivors.
 * Prints what each step returned. Run by scripts/ulfm-probe (np 4) under each MPI installed.
 */
#include <mpi.h>
#ifndef MPIX_ERR_PROC_FAILED
#error "this MPI declares no ULFM (MPIX_ERR_PROC_FAILED)"
#endif
#include <stdio.h>
#include <signal.h>
#include <unistd.h>
int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int rank, size; MPI_Comm_rank(MPI_COMM_WORLD, &rank); MPI_Comm_size(MPI_COMM_WORLD, &size);
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank == 2) { raise(SIGKILL); }
  sleep(1);
  int rc = MPI_Barrier(MPI_COMM_WORLD);
  char s[256]; int l = 0; MPI_Error_string(rc, s, &l);
  printf("rank %d: barrier after the death: rc %d (%s)\n", rank, rc, s); fflush(stdout);
  if (rc != MPI_SUCCESS) {
    MPIX_Comm_revoke(MPI_COMM_WORLD);
    MPI_Comm shrunk; rc = MPIX_Comm_shrink(MPI_COMM_WORLD, &shrunk);
    int n = -1; if (rc == MPI_SUCCESS) MPI_Comm_size(shrunk, &n);
    printf("rank %d: shrink rc %d, new size %d\n", rank, rc, n); fflush(stdout);
    if (rc == MPI_SUCCESS) { int v = 1, sum = 0; rc = MPI_Allreduce(&v, &sum, 1, MPI_INT, MPI_SUM, shrunk); printf("rank %d: allreduce on survivors rc %d sum %d\n", rank, rc, sum); }
  }
  MPI_Finalize();
  return 0;
}
