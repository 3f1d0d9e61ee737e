/* trainstate — what a training run carries from update to update besides
 * parameters and Adam moments: counters and the per-update history (one
 * column per quantity, X-macro so checkpoints, results.h5 and the JSON
 * summary list the same columns). */
#ifndef DMN_TRAINSTATE_H
#define DMN_TRAINSTATE_H

#include "model.h"

/* clang-format off */
#define DMN_HISTORY_COLUMNS(X) \
  X(episodes,       "episodes done after this update") \
  X(loss_total,     "mean loss over the update's episodes") \
  X(loss_nav,       "mean w_nav * mean_t |p_t - g|") \
  X(loss_energy,    "mean w_energy * mean_t |d_t|^2") \
  X(loss_sparse,    "mean KC sparseness term") \
  X(loss_rate,      "mean rate-ceiling term") \
  X(loss_silent,    "mean silent-layer term") \
  X(final_distance, "mean final distance to the source, mm") \
  X(mean_distance,  "mean over episodes of the mean distance, mm") \
  X(path_length,    "mean path length, mm") \
  X(kc_active,      "mean fraction of KCs active per 100 ms") \
  X(rate_orn,       "ORN mean rate, Hz") \
  X(rate_pn,        "PN mean rate, Hz") \
  X(rate_kc,        "KC mean rate, Hz") \
  X(rate_mbon,      "MBON mean rate, Hz") \
  X(rate_dn,        "DN mean rate, Hz") \
  X(grad_norm,      "global gradient norm before clipping") \
  X(clip_factor,    "factor applied by clipping (1 = none)") \
  X(seconds,        "wall time of the update, s")
/* clang-format on */

#define DMN_HCOL_ENUM(name, doc) DMN_H_##name,
typedef enum { DMN_HISTORY_COLUMNS(DMN_HCOL_ENUM) DMN_NHCOL } DmnHistoryColumn;
#undef DMN_HCOL_ENUM
extern const char *const dmn_history_names[DMN_NHCOL];

typedef struct DmnHistory {
  long n, cap;
  double *col[DMN_NHCOL];  /* (n) each */
  double *group_norm;      /* (n x DMN_NGROUP) gradient norm per parameter group before clipping */
} DmnHistory;

typedef struct DmnTrainState {
  long update;        /* updates done */
  long episodes_done;
  DmnHistory hist;
} DmnTrainState;

/* Evaluation over a fixed set of held-out start poses. */
typedef struct DmnEvalSummary {
  int n;
  double *final_distance, *mean_distance, *path_length; /* (n) mm */
  double *kc_active;         /* (n) fraction of KCs active per 100 ms window */
  double success_rate;       /* final distance < 5 mm (MODEL §8: fixed) */
  double median_final, mean_final, mean_mean_distance, mean_path, mean_kc_active;
} DmnEvalSummary;

#define DMN_SUCCESS_RADIUS_MM 5.0

void history_push(DmnHistory *h, const double row[DMN_NHCOL], const double group_norm[DMN_NGROUP]);
void history_reserve(DmnHistory *h, long n);
void history_free(DmnHistory *h);
void eval_summary_finish(DmnEvalSummary *s); /* fills the scalar fields from the arrays */
void eval_summary_free(DmnEvalSummary *s);

#endif
