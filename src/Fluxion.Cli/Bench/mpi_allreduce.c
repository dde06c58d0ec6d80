/* Open MPI's own allreduce figures for `fluxion bench ddp`: the same MPI_Allreduce (in place, float,
 * sum) that Fluxion.Distributed calls through P/Invoke, timed from C like osu_allreduce does.
 * Usage: mpirun -np 2 ./mpi_allreduce WARMUP RUNS BYTES...   Prints one JSON line per size (rank 0). */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    int warmup = atoi(argv[1]), runs = atoi(argv[2]);
    double *t = malloc(sizeof(double) * (size_t)runs);
    for (int a = 3; a < argc; a++) {
        long bytes = atol(argv[a]);
        int n = (int)(bytes / (long)sizeof(float));
        float *buf = calloc((size_t)n, sizeof(float));
        for (int i = 0; i < warmup; i++) MPI_Allreduce(MPI_IN_PLACE, buf, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        for (int i = 0; i < runs; i++) {
            MPI_Barrier(MPI_COMM_WORLD);
            double t0 = MPI_Wtime();
            MPI_Allreduce(MPI_IN_PLACE, buf, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
            t[i] = (MPI_Wtime() - t0) * 1e3;
        }
        qsort(t, (size_t)runs, sizeof(double), cmp);
        double med = runs % 2 ? t[runs / 2] : 0.5 * (t[runs / 2 - 1] + t[runs / 2]);
        if (rank == 0)
            printf("{\"name\":\"ddp/allreduce_c/%ld\",\"median_ms\":%.4f,\"min_ms\":%.4f,\"max_ms\":%.4f,\"runs\":%d,\"bytes\":%ld,\"gb_per_s\":%.4f}\n",
                   bytes, med, t[0], t[runs - 1], runs, bytes, bytes / (med * 1e6));
        free(buf);
    }
    free(t);
    MPI_Finalize();
    return 0;
}
