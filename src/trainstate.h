/* trainstate — what a training run carries from update to update besides
 * parameters and Adam moments: counters and the per-update history (one
 * column per quantity, X-macro so checkpoints, results.h5 and the JSON
 * summary list the same columns). */
#ifndef DMN_TRAINSTATE_H
#define DMN_TRAINSTATE_H

#include "model.h"
#include "loss.h"
#include "metrics.h"

/* clang-format off */
#define DMN_HISTORY_COLUMNS(X) \
  X(episodes,       "episodes done after this update") \
  X(loss_total,     "mean loss over the update's episodes") \
  X(loss_nav,       "mean w_nav * mean_t |p_t - g|") \
  X(loss_energy,    "mean w_energy * mean_t |d_t|^2") \
  X(loss_sparse,    "mean KC sparseness term") \
  X(loss_rate,      "mean rate-ceiling term") \
  X(loss_silent,    "mean silent-layer term") \
  X(loss_end,       "mean w_end term (distance over the closing steps)") \
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
  X(seconds,        "wall time of the update, s") \
  X(val_success,    "success rate on the validation starts after this update (NaN: not validated)") \
  X(val_median_final, "median final distance on the validation starts, mm (NaN: not validated)") \
  X(eval_success,   "success rate on the held-out starts after this update (train.eval_at; NaN: not evaluated)") \
  X(eval_median_final, "median final distance on the held-out starts, mm (train.eval_at; NaN: not evaluated)")
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
  /* train.validate_every: the best validation so far (best.h5); best_update 0 = none yet */
  long best_update;
  double best_success, best_median_final;
  DmnParams avg; /* train.average > 0: moving average of the parameters (data NULL when off) */
} DmnTrainState;

/* What a history column holds in a checkpoint written before the column
 * existed (loss_end: the term was 0; validation: not validated). */
double history_missing_value(int column);

/* Evaluation over a fixed set of held-out start poses. */
#define DMN_EM_ARRAY(name, field, mean, col, unit, doc) double *name;
#define DMN_EM_MEAN(name, field, mean, col, unit, doc) double mean_##name;
typedef struct DmnEvalSummary {
  int n;
  union { /* (n) per episode, one array per row of metrics.h: final_distance, mean_distance, ... */
    struct {
      DMN_EVAL_METRICS(DMN_EM_ARRAY)
    };
    double *metric[DMN_EM_N];
  };
  union { /* their means over the episodes: mean_final_distance, mean_mean_distance, ... */
    struct {
      DMN_EVAL_METRICS(DMN_EM_MEAN)
    };
    double metric_mean[DMN_EM_N];
  };
  double *loss_term;         /* (n x DMN_NLOSS_TERM) nav, energy, sparse, rate, silent, end (weighted) */
  double success_rate;       /* final distance < 5 mm (MODEL §8: fixed) */
  double median_final;
} DmnEvalSummary;
#undef DMN_EM_ARRAY
#undef DMN_EM_MEAN

#define DMN_SUCCESS_RADIUS_MM 5.0

/* The final evaluation by start distance (train.eval_radii). */
#define DMN_MAX_RADII 32
typedef struct DmnRadiiTable {
  int n, episodes;
  double radius[DMN_MAX_RADII], success_rate[DMN_MAX_RADII], median_final[DMN_MAX_RADII], mean_distance[DMN_MAX_RADII],
      path_length[DMN_MAX_RADII];
} DmnRadiiTable;
enum { DMN_LT_NAV, DMN_LT_ENERGY, DMN_LT_SPARSE, DMN_LT_RATE, DMN_LT_SILENT, DMN_LT_END, DMN_NLOSS_TERM };

void history_push(DmnHistory *h, const double row[DMN_NHCOL], const double group_norm[DMN_NGROUP]);
void history_reserve(DmnHistory *h, long n);
void history_free(DmnHistory *h);
void eval_summary_finish(DmnEvalSummary *s); /* fills the scalar fields from the arrays */
/* An episode's metrics in metrics.h's order. */
void eval_metrics_of(const DmnMetrics *m, double out[DMN_EM_N]);
void eval_summary_free(DmnEvalSummary *s);
void eval_summary_copy(const DmnEvalSummary *s, DmnEvalSummary *out); /* a deep copy */


/* ---- evolution (evolve.c): genomes and lineage ------------------------------ */

/* The hyperparameters an individual carries: DMN_HYPER in config.h. */

/* One structural edit: in projection proj, the synapse of postsynaptic
 * neuron post from old_pre now comes from new_pre (a rewired PN->KC claw, a
 * KC->MBON synapse pruned and regrown).  Rows keep their length, so the
 * parameter layout never changes. */
typedef struct DmnEdit {
  int32_t proj, post, old_pre, new_pre;
} DmnEdit;

/* What selection copies and mutation changes, besides parameters and Adam
 * state: the hyperparameters and the structure as edits on a base connectome
 * (intact, or the config's lesions when `lesioned`).  Replaying the edits
 * reproduces the structure exactly, so a genome is a few hundred bytes. */
typedef struct DmnGenome {
  long id, parent;      /* parent -1: a founder */
  int lesioned;         /* base connectome: 0 intact, 1 with the config's lesions (evolution.lesioned) */
  double hyper[DMN_NHYPER];
  long made_pn_kc, made_kc_mbon; /* edits drawn when this individual was made */
  long n_edits, cap;
  DmnEdit *edits;       /* (n_edits) in the order applied */
} DmnGenome;

void genome_copy(DmnGenome *dst, const DmnGenome *src);
void genome_free(DmnGenome *g);
void genome_push_edit(DmnGenome *g, DmnEdit e);

/* clang-format off */
#define DMN_LINEAGE_COLUMNS(X) \
  X(id,             "individual in this slot during the generation") \
  X(parent,         "individual it was copied from (-1: a founder)") \
  X(lesioned,       "1 = built on the config's lesions (evolution.lesioned)") \
  X(fitness,        "fitness after the generation's training (higher is better)") \
  X(fitness_loss,   "mean loss on the fitness episodes, with the config's loss weights") \
  X(fitness_success,"success rate on the fitness episodes") \
  X(fitness_final,  "median final distance on the fitness episodes, mm") \
  X(lr_scale,       "hyperparameter") \
  X(w_energy,       "hyperparameter") \
  X(w_sparse,       "hyperparameter") \
  X(surrogate_beta, "hyperparameter") \
  X(tau_scale,      "hyperparameter") \
  X(edits,          "structural edits since the base connectome") \
  X(made_pn_kc,     "PN->KC rewirings drawn when the individual was made") \
  X(made_kc_mbon,   "KC->MBON prune/regrow edits drawn when the individual was made") \
  X(replaced_by,    "slot whose individual replaced this one after the generation (-1: kept)")
/* clang-format on */
#define DMN_LCOL_ENUM(name, doc) DMN_LIN_##name,
typedef enum { DMN_LINEAGE_COLUMNS(DMN_LCOL_ENUM) DMN_NLCOL } DmnLineageColumn;
#undef DMN_LCOL_ENUM
extern const char *const dmn_lineage_names[DMN_NLCOL];
extern const char *const dmn_lineage_docs[DMN_NLCOL];

/* The population's record: one row per generation, one column per slot. */
typedef struct DmnEvolutionLog {
  int P;
  long n_gen, cap;
  double *col[DMN_NLCOL];  /* (cap x P) */
  uint64_t *checksum;      /* (cap x P) parameters at the end of the generation */
  uint64_t *inherited;     /* (cap x P) parameters of a replacement right after the copy (0: kept) */
  /* final held-out evaluation of every slot (P each), and the reported best */
  double *final_success, *final_median, *final_mean_distance;
  int best;
} DmnEvolutionLog;

void evolution_log_init(DmnEvolutionLog *l, int P);
void evolution_log_reserve(DmnEvolutionLog *l, long n_gen);
void evolution_log_free(DmnEvolutionLog *l);

#endif
