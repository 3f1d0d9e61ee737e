/* metrics — the per-episode evaluation metrics: the one table to extend when
 * a metric is added.  It generates DmnEvalSummary's per-episode arrays and
 * their means (trainstate.h), the evaluation's gather (train.c), the
 * datasets, units and mean attributes of every /evaluation/<set> group
 * (results.c), and dmn_merge's columns (merge.c); analysis/report.py reads
 * the names back from the files' `metrics` attribute.  The value itself is
 * computed where the episode runs (loss.c / episode.c fill DmnMetrics).
 *
 * Row: X(name, DmnMetrics field, attribute of the mean over the episodes,
 *        column in merged.h5, unit, meaning).  No dependencies: dmn_merge
 * includes it alone. */
#ifndef DMN_METRICS_H
#define DMN_METRICS_H

/* clang-format off */
#define DMN_EVAL_METRICS(X) \
  X(final_distance, final_distance, mean_final_distance, mean_final_distance, "mm", "distance to the source at the end of the episode (success: below 5 mm)") \
  X(mean_distance,  mean_distance,  mean_distance,       mean_distance,       "mm", "distance to the source averaged over the episode's steps") \
  X(path_length,    path_length,    mean_path_length,    path_length,         "mm", "length of the path walked") \
  X(kc_active,      kc_active_fraction, mean_kc_active,  kc_active,           "",   "fraction of KCs spiking at least once per 100 ms window, averaged over the episode")
/* clang-format on */

#define DMN_EM_ENUM(name, field, mean, col, unit, doc) DMN_EM_##name,
enum { DMN_EVAL_METRICS(DMN_EM_ENUM) DMN_EM_N };
#undef DMN_EM_ENUM

#endif
