/* MPI_REPLACE and MPI_NO_OP are macros whose expansion differs between MPI libraries (the
   address of a private symbol in Open MPI, an integer constant in MPICH), and rsmpi does not
   export them. Compiled here against the library's own mpi.h, they are right on any MPI. */
#include <mpi.h>

MPI_Op mpidist_op_replace(void) { return MPI_REPLACE; }
MPI_Op mpidist_op_no_op(void) { return MPI_NO_OP; }
