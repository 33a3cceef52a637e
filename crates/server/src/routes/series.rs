//! Metric histories as chart series: one per metric and split, downsampled on the server to
//! about the pixels a chart shows (largest triangle three buckets), so a run with a million
//! points draws as fast as one with a thousand.

use std::collections::BTreeMap;

use aimdb::{MetadataStore, Metric, TrainingRunId};
use aimdb_remote::wire::ErrorBody;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Id, Params, json};

/// Points per series when the request does not say (a wide chart on a laptop screen).
const DEFAULT_POINTS: usize = 1000;
/// Most points per series one request may ask for.
const MAX_POINTS: usize = 20_000;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(metric_series))
}

/// What a chart's x axis shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Axis {
    /// The point's step.
    #[default]
    Step,
    /// The point's epoch.
    Epoch,
    /// When it was logged, in seconds since 1970 (UTC).
    Time,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct SeriesQuery {
    /// Only this metric.
    name: Option<String>,
    /// The x axis: `step` (default), `epoch` or `time`. A point without a step (or epoch) is
    /// placed at its position in its series' logging order.
    x: Option<Axis>,
    /// Most points per series (default 1000, 3 to 20000): about the chart's width in pixels.
    points: Option<usize>,
}

/// One metric's points in one split, ordered by x, downsampled when longer than asked.
#[derive(Debug, PartialEq, Serialize, ToSchema)]
pub(crate) struct Series {
    /// The metric's name.
    pub(crate) name: String,
    /// Its split (`train`, `val`, ...).
    pub(crate) split: String,
    /// Points logged (before downsampling).
    pub(crate) total: usize,
    /// Smallest value logged (downsampling may drop the point that holds it).
    pub(crate) y_min: f64,
    /// Largest value logged.
    pub(crate) y_max: f64,
    /// The x of each point kept, ascending; the first and last logged are always kept.
    pub(crate) x: Vec<f64>,
    /// The value of each point kept.
    pub(crate) y: Vec<f64>,
}

/// A run's metric series: `{"x": "step", "series": [...]}`.
#[derive(Debug, Serialize, ToSchema)]
struct SeriesAnswer {
    x: Axis,
    series: Vec<Series>,
}

#[utoipa::path(get, path = "/api/v1/runs/{id}/metrics/series", tag = "runs", params(("id" = i64, Path), SeriesQuery),
    responses((status = 200, body = SeriesAnswer), (status = "4XX", body = ErrorBody)))]
/// The run's metrics as chart series, one per metric and split, downsampled to `points`.
async fn metric_series(State(s): State<AppState>, Id(id): Id, Params(q): Params<SeriesQuery>) -> ApiResult {
    let points = q.points.unwrap_or(DEFAULT_POINTS);
    if !(3..=MAX_POINTS).contains(&points) {
        return Err(ApiError::invalid("points", format!("{points}: expected 3 to {MAX_POINTS}")));
    }
    let run = TrainingRunId(id);
    // A 404 for a run that does not exist, not an empty chart.
    s.db.get_training_run(run).await?;
    let axis = q.x.unwrap_or_default();
    let metrics = s.db.get_metrics(run, q.name.as_deref()).await?;
    Ok(json(StatusCode::OK, &SeriesAnswer { x: axis, series: series(metrics, axis, points) }))
}

/// Groups points (in logging order) by metric and split, orders each group by `axis`, and
/// downsamples groups longer than `points`.
pub(crate) fn series(metrics: Vec<Metric>, axis: Axis, points: usize) -> Vec<Series> {
    let mut groups: BTreeMap<(String, String), Vec<lttb::DataPoint>> = BTreeMap::new();
    for metric in metrics {
        let group = groups.entry((metric.metric_name, metric.split)).or_default();
        let position = group.len() as f64;
        let x = match axis {
            Axis::Step => metric.step.map_or(position, |s| s as f64),
            Axis::Epoch => metric.epoch.map_or(position, |e| e as f64),
            Axis::Time => metric.timestamp.timestamp_millis() as f64 / 1000.0,
        };
        group.push(lttb::DataPoint::new(x, metric.metric_value));
    }
    groups
        .into_iter()
        .map(|((name, split), mut group)| {
            // Stable: points at the same x keep their logging order.
            group.sort_by(|a, b| a.x.total_cmp(&b.x));
            let total = group.len();
            let (y_min, y_max) = group
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| (lo.min(p.y), hi.max(p.y)));
            let kept = if total > points { lttb::lttb(group, points) } else { group };
            let (x, y) = kept.into_iter().map(|p| (p.x, p.y)).unzip();
            Series { name, split, total, y_min, y_max, x, y }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use aimdb::{Metric, TrainingRunId};
    use proptest::prelude::*;

    use super::{Axis, series};

    fn point(name: &str, split: &str, step: Option<i64>, value: f64) -> Metric {
        Metric {
            training_run_id: TrainingRunId(1),
            metric_name: name.into(),
            metric_value: value,
            epoch: step.map(|s| s / 10),
            step,
            split: split.into(),
            timestamp: chrono::DateTime::from_timestamp(1_700_000_000 + step.unwrap_or(0), 0).unwrap(),
        }
    }

    #[test]
    fn one_series_per_metric_and_split_ordered_by_x() {
        let metrics = vec![
            point("loss", "train", Some(2), 0.5),
            point("loss", "val", Some(1), 0.9),
            point("loss", "train", Some(1), 0.7),
            point("acc", "train", None, 0.1),
            point("acc", "train", None, 0.2),
        ];
        let out = series(metrics, Axis::Step, 1000);
        let keys: Vec<_> = out.iter().map(|s| (s.name.as_str(), s.split.as_str())).collect();
        assert_eq!(keys, [("acc", "train"), ("loss", "train"), ("loss", "val")]);
        // Without steps, points sit at their position in logging order.
        assert_eq!(out[0].x, [0.0, 1.0]);
        assert_eq!((out[1].x.clone(), out[1].y.clone()), (vec![1.0, 2.0], vec![0.7, 0.5]));
        assert_eq!((out[1].y_min, out[1].y_max, out[1].total), (0.5, 0.7, 2));
        let by_time = series(vec![point("loss", "train", Some(5), 1.0)], Axis::Time, 1000);
        assert_eq!(by_time[0].x, [1_700_000_005.0]);
        let by_epoch = series(vec![point("loss", "train", Some(25), 1.0)], Axis::Epoch, 1000);
        assert_eq!(by_epoch[0].x, [2.0]);
    }

    proptest! {
        /// Downsampling keeps at most `points`, the first and last x, and only logged points;
        /// the true range of values is reported whatever was dropped.
        #[test]
        fn downsampling_keeps_the_ends_and_the_range(
            values in prop::collection::vec(-1e6f64..1e6, 1..3000),
            points in 3usize..500,
        ) {
            let metrics: Vec<_> =
                values.iter().enumerate().map(|(i, v)| point("loss", "train", Some(i as i64 * 3), *v)).collect();
            let out = series(metrics, Axis::Step, points);
            let s = &out[0];
            prop_assert_eq!(s.total, values.len());
            prop_assert!(s.x.len() <= points.max(1) && s.x.len() == s.y.len());
            prop_assert_eq!(s.x[0], 0.0);
            prop_assert_eq!(*s.x.last().unwrap(), (values.len() as f64 - 1.0) * 3.0);
            prop_assert!(s.x.windows(2).all(|w| w[0] <= w[1]));
            for (x, y) in s.x.iter().zip(&s.y) {
                prop_assert_eq!(values[(*x as usize) / 3], *y);
            }
            let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            prop_assert_eq!((s.y_min, s.y_max), (lo, hi));
        }
    }
}
