/* record — the compact per-episode record (trajectory, spikes, loss) taken
 * from a tape, and its gather to rank 0 in episode order. */
#include "io.h"
#include "par.h"

#include <stdlib.h>
#include <string.h>

static void *xmalloc(size_t n) { return malloc(n ? n : 1); }

/* The spikes of neurons [lo, hi) at step k of a tape that keeps them as
 * bits: their count, and with ids their indices from lo (ascending) — a
 * word at a time (a few percent of the bits are set). */
static int spikes_from_bits(const DmnTape *t, int k, int lo, int hi, int *ids) {
  const uint64_t *row = t->s_bits + (size_t)k * (size_t)t->s_words;
  int c = 0;
  for (int wi = lo >> 6; lo < hi && wi <= (hi - 1) >> 6; wi++) {
    const int b0 = wi * 64;
    uint64_t word = row[wi];
    if (b0 < lo) word &= ~0ULL << (lo - b0);
    if (hi - b0 < 64) word &= (1ULL << (hi - b0)) - 1;
    if (!ids) {
      c += __builtin_popcountll(word);
      continue;
    }
    for (; word; word &= word - 1) ids[c++] = b0 + __builtin_ctzll(word) - lo;
  }
  return c;
}

/* The per-step series of a record of T steps (spikes are sized separately). */
static void record_alloc_series(DmnEpisodeRecord *r, int T) {
  if (r->n_joint <= 0) r->n_joint = 3 * DMN_LEGS;
  r->position = xmalloc(sizeof(double) * 3 * T);
  r->heading = xmalloc(sizeof(double) * T);
  r->odor = xmalloc(sizeof(double) * 2 * T);
  r->drive = xmalloc(sizeof(double) * 2 * T);
  r->joints = xmalloc(sizeof(double) * (size_t)r->n_joint * T);
  r->contact = xmalloc(sizeof(double) * DMN_LEGS * T);
}

void record_from_tape(const DmnModel *m, const DmnTape *t, long episode, DmnEpisodeRecord *r) {
  memset(r, 0, sizeof(*r));
  int T = t->T;
  r->episode = episode;
  r->T = T;
  r->n_joint = 3 * DMN_LEGS;
  record_alloc_series(r, T);
  for (int k = 0; k < T; k++) {
    r->position[3 * k] = t->body[k].p[0];
    r->position[3 * k + 1] = t->body[k].p[1];
    r->position[3 * k + 2] = 0.0;
    r->heading[k] = t->body[k].psi;
    memcpy(r->odor + 2 * k, t->conc + 2 * k, 2 * sizeof(double));
    memcpy(r->drive + 2 * k, t->drive + 2 * k, 2 * sizeof(double));
    body_joints(&m->body, k, t->drive + 2 * k, r->joints + 3 * DMN_LEGS * k, r->contact + DMN_LEGS * k);
  }
  /* spikes as (step, neuron) pairs; in smooth mode a "spike" is s > 0.5 */
  for (int l = 0; l < DMN_NLAYER; l++) {
    const int lo = m->layer_off[l], hi = m->layer_off[l + 1];
    int cnt = 0;
    for (int k = 0; k < T; k++)
      if (t->s_bits) cnt += spikes_from_bits(t, k, lo, hi, NULL);
      else
        for (int i = lo; i < hi; i++) cnt += tape_spike(t, k, i) > 0.5;
    r->n_spikes[l] = cnt;
    r->spike_step[l] = xmalloc(sizeof(int) * cnt);
    r->spike_id[l] = xmalloc(sizeof(int) * cnt);
    cnt = 0;
    for (int k = 0; k < T; k++) {
      if (t->s_bits) {
        const int c0 = cnt;
        cnt += spikes_from_bits(t, k, lo, hi, r->spike_id[l] + cnt);
        for (int c = c0; c < cnt; c++) r->spike_step[l][c] = k;
        continue;
      }
      for (int i = lo; i < hi; i++)
        if (tape_spike(t, k, i) > 0.5) {
          r->spike_step[l][cnt] = k;
          r->spike_id[l][cnt++] = i - lo;
        }
    }
    r->rate_hz[l] = t->metrics.rate_hz[l];
  }
  r->loss = t->loss;
  r->metrics = t->metrics;
  r->start[0] = t->p0[0];
  r->start[1] = t->p0[1];
  r->start[2] = t->psi0;
}

void record_free(DmnEpisodeRecord *r) {
  free(r->position);
  free(r->heading);
  free(r->odor);
  free(r->drive);
  free(r->joints);
  free(r->contact);
  for (int l = 0; l < DMN_NLAYER; l++) {
    free(r->spike_step[l]);
    free(r->spike_id[l]);
  }
  memset(r, 0, sizeof(*r));
}

PetscErrorCode record_send(const DmnEpisodeRecord *r, int dest, MPI_Comm comm) {
  PetscFunctionBeginUser;
  int T = r->T;
  PetscCallMPI(MPI_Send(r, (int)sizeof(*r), MPI_BYTE, dest, 1, comm)); /* header; pointers are ignored */
  PetscCallMPI(MPI_Send(r->position, 3 * T, MPI_DOUBLE, dest, 2, comm));
  PetscCallMPI(MPI_Send(r->heading, T, MPI_DOUBLE, dest, 3, comm));
  PetscCallMPI(MPI_Send(r->odor, 2 * T, MPI_DOUBLE, dest, 4, comm));
  PetscCallMPI(MPI_Send(r->drive, 2 * T, MPI_DOUBLE, dest, 5, comm));
  PetscCallMPI(MPI_Send(r->joints, r->n_joint * T, MPI_DOUBLE, dest, 6, comm));
  PetscCallMPI(MPI_Send(r->contact, DMN_LEGS * T, MPI_DOUBLE, dest, 7, comm));
  for (int l = 0; l < DMN_NLAYER; l++) {
    PetscCallMPI(MPI_Send(r->spike_step[l], r->n_spikes[l], MPI_INT, dest, 8, comm));
    PetscCallMPI(MPI_Send(r->spike_id[l], r->n_spikes[l], MPI_INT, dest, 9, comm));
  }
  PetscFunctionReturn(0);
}

PetscErrorCode record_recv(const DmnModel *m, DmnEpisodeRecord *r, int src, MPI_Comm comm) {
  PetscFunctionBeginUser;
  (void)m;
  PetscCallMPI(MPI_Recv(r, (int)sizeof(*r), MPI_BYTE, src, 1, comm, MPI_STATUS_IGNORE));
  int T = r->T;
  record_alloc_series(r, T);
  PetscCallMPI(MPI_Recv(r->position, 3 * T, MPI_DOUBLE, src, 2, comm, MPI_STATUS_IGNORE));
  PetscCallMPI(MPI_Recv(r->heading, T, MPI_DOUBLE, src, 3, comm, MPI_STATUS_IGNORE));
  PetscCallMPI(MPI_Recv(r->odor, 2 * T, MPI_DOUBLE, src, 4, comm, MPI_STATUS_IGNORE));
  PetscCallMPI(MPI_Recv(r->drive, 2 * T, MPI_DOUBLE, src, 5, comm, MPI_STATUS_IGNORE));
  PetscCallMPI(MPI_Recv(r->joints, r->n_joint * T, MPI_DOUBLE, src, 6, comm, MPI_STATUS_IGNORE));
  PetscCallMPI(MPI_Recv(r->contact, DMN_LEGS * T, MPI_DOUBLE, src, 7, comm, MPI_STATUS_IGNORE));
  for (int l = 0; l < DMN_NLAYER; l++) {
    r->spike_step[l] = xmalloc(sizeof(int) * r->n_spikes[l]);
    r->spike_id[l] = xmalloc(sizeof(int) * r->n_spikes[l]);
    PetscCallMPI(MPI_Recv(r->spike_step[l], r->n_spikes[l], MPI_INT, src, 8, comm, MPI_STATUS_IGNORE));
    PetscCallMPI(MPI_Recv(r->spike_id[l], r->n_spikes[l], MPI_INT, src, 9, comm, MPI_STATUS_IGNORE));
  }
  PetscFunctionReturn(0);
}

PetscErrorCode record_gather(const DmnModel *m, DmnEpisodeRecord *local, long n, MPI_Comm comm, DmnEpisodeRecord *all) {
  PetscFunctionBeginUser;
  int rank, size;
  DMN_MPI(MPI_Comm_rank(comm, &rank));
  DMN_MPI(MPI_Comm_size(comm, &size));
  for (long e = 0; e < n; e++) {
    int owner = (int)(e % size);
    long idx = e / size;
    if (owner == rank && rank == 0) {
      all[e] = local[idx];
      memset(&local[idx], 0, sizeof local[idx]); /* moved */
    } else if (owner == rank) {
      PetscCall(record_send(&local[idx], 0, comm));
    } else if (rank == 0) {
      PetscCall(record_recv(m, &all[e], owner, comm));
    }
  }
  PetscFunctionReturn(0);
}
