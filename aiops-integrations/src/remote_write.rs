//! Prometheus remote_write 1.0: the snappy-compressed protobuf `WriteRequest` a Prometheus
//! server POSTs to a `remote_write` URL (`Content-Type: application/x-protobuf`,
//! `Content-Encoding: snappy`, `X-Prometheus-Remote-Write-Version: 0.1.0`).
//!
//! Wire format, as in Prometheus' `prompb/remote.proto` and `prompb/types.proto`:
//!
//! ```text
//! WriteRequest   { repeated TimeSeries timeseries = 1; reserved 2; repeated MetricMetadata metadata = 3; }
//! TimeSeries     { repeated Label labels = 1; repeated Sample samples = 2;
//!                  repeated Exemplar exemplars = 3; repeated Histogram histograms = 4; }
//! Label          { string name = 1; string value = 2; }
//! Sample         { double value = 1; int64 timestamp = 2; }            // timestamp: ms
//! Exemplar       { repeated Label labels = 1; double value = 2; int64 timestamp = 3; }
//! MetricMetadata { MetricType type = 1; string metric_family_name = 2; string help = 4; string unit = 5; }
//! ```
//!
//! The body is the protobuf encoding of one `WriteRequest`, compressed with snappy's *block*
//! format (not the framed stream format). Native histograms are kept as their undecoded
//! protobuf bytes: they are counted and reported, never silently dropped.
//!
//! [`decode`] reads a body (refusing one whose decompressed size is over
//! [`Limits::max_decoded_bytes`] before allocating for it), [`encode`] writes one (for clients,
//! tests and load generators), and [`to_batches`] checks every series and converts it into a
//! [`SeriesBatch`] of aiops types, with a [`Summary`] of what the request held.

use std::fmt;

use aiops_core::labels::{is_valid_label_name, is_valid_metric_name};
use aiops_core::{Labels, TimeSeries as CoreSeries, TimestampMs};
use prost::Message;
use serde::Serialize;

use crate::error::{IntegrationError, Result};

/// The system name used in this module's errors.
pub const SYSTEM: &str = "prometheus remote_write";

/// The label holding the metric name.
pub const METRIC_NAME_LABEL: &str = "__name__";

/// Bit pattern of Prometheus' staleness marker, a NaN written when a series disappears
/// (`value.StaleNaN` in Prometheus).
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// Whether `value` is Prometheus' staleness marker (exactly the NaN [`STALE_NAN_BITS`]; other
/// NaNs are not).
pub fn is_stale_marker(value: f64) -> bool {
    value.to_bits() == STALE_NAN_BITS
}

/// The request a Prometheus server sends: a batch of series and, optionally, metric metadata.
#[derive(Clone, PartialEq, Message)]
pub struct WriteRequest {
    /// The series, each with its labels and samples.
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
    /// Metadata of metric families (type, help, unit), sent by Prometheus when
    /// `send_metadata` is on (the default).
    #[prost(message, repeated, tag = "3")]
    pub metadata: Vec<MetricMetadata>,
}

/// One series on the wire: its labels (including `__name__`) and what was scraped for it.
#[derive(Clone, PartialEq, Message)]
pub struct TimeSeries {
    /// The labels; Prometheus sends them sorted by name, without duplicates.
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    /// The samples, oldest first as Prometheus sends them.
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
    /// Exemplars attached to the series.
    #[prost(message, repeated, tag = "3")]
    pub exemplars: Vec<Exemplar>,
    /// Native histograms, each kept as the undecoded protobuf bytes of a `Histogram` message
    /// (aiops does not use them; they are counted so that none is lost unnoticed).
    #[prost(bytes = "vec", repeated, tag = "4")]
    pub histograms: Vec<Vec<u8>>,
}

/// One `name="value"` label.
#[derive(Clone, PartialEq, Message)]
pub struct Label {
    /// Label name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// Label value; an empty value means the label is absent.
    #[prost(string, tag = "2")]
    pub value: String,
}

/// One sample.
#[derive(Clone, PartialEq, Message)]
pub struct Sample {
    /// The value (a NaN with the bits [`STALE_NAN_BITS`] is a staleness marker).
    #[prost(double, tag = "1")]
    pub value: f64,
    /// When it was taken, ms since the epoch.
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

/// An exemplar: a traced observation attached to a series.
#[derive(Clone, PartialEq, Message)]
pub struct Exemplar {
    /// The exemplar's own labels (typically `trace_id`), may be empty.
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    /// The observed value.
    #[prost(double, tag = "2")]
    pub value: f64,
    /// When it was observed, ms since the epoch.
    #[prost(int64, tag = "3")]
    pub timestamp: i64,
}

/// Metadata of one metric family.
#[derive(Clone, PartialEq, Message)]
pub struct MetricMetadata {
    /// The family's type, a [`MetricType`] value (unknown numbers read as
    /// [`MetricType::Unknown`] through [`MetricMetadata::r#type`]).
    #[prost(enumeration = "MetricType", tag = "1")]
    pub r#type: i32,
    /// The family's name (`http_requests_total`...).
    #[prost(string, tag = "2")]
    pub metric_family_name: String,
    /// The `# HELP` text.
    #[prost(string, tag = "4")]
    pub help: String,
    /// The unit (`seconds`, `bytes`...), often empty.
    #[prost(string, tag = "5")]
    pub unit: String,
}

/// Type of a metric family, as numbered by `MetricMetadata.MetricType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum MetricType {
    /// Not known.
    Unknown = 0,
    /// A counter.
    Counter = 1,
    /// A gauge.
    Gauge = 2,
    /// A (classic) histogram.
    Histogram = 3,
    /// A gauge histogram.
    Gaugehistogram = 4,
    /// A summary.
    Summary = 5,
    /// An info metric.
    Info = 6,
    /// A state set.
    Stateset = 7,
}

/// Bounds on what [`decode`] accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest decompressed body accepted, bytes (default 32 MiB; a Prometheus batch of the
    /// default `max_samples_per_send` is a few hundred KiB).
    pub max_decoded_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_decoded_bytes: 32 << 20,
        }
    }
}

/// The stream identifier that starts snappy's framed format, which remote_write does not use.
const SNAPPY_FRAMED_MAGIC: &[u8] = b"\xff\x06\x00\x00sNaPpY";

/// Decodes a remote_write body: snappy block decompression, then the protobuf
/// [`WriteRequest`].
///
/// The decompressed size, read from the snappy header, is checked against
/// `limits.max_decoded_bytes` before anything is allocated for it
/// ([`IntegrationError::TooLarge`]). A body that is not a snappy block is
/// [`IntegrationError::Decompress`], one that is not a `WriteRequest`
/// [`IntegrationError::Protobuf`] with the decoder's reason.
pub fn decode(body: &[u8], limits: &Limits) -> Result<WriteRequest> {
    let bad_snappy = |reason: String| IntegrationError::Decompress {
        system: SYSTEM,
        reason,
    };
    if body.is_empty() {
        return Err(bad_snappy("empty body".into()));
    }
    if body.starts_with(SNAPPY_FRAMED_MAGIC) {
        return Err(bad_snappy(
            "the body uses snappy's framed format; remote_write uses the block format".into(),
        ));
    }
    let size = snap::raw::decompress_len(body).map_err(|e| bad_snappy(e.to_string()))?;
    if size > limits.max_decoded_bytes {
        return Err(IntegrationError::TooLarge {
            system: SYSTEM,
            size: size as u64,
            limit: limits.max_decoded_bytes as u64,
        });
    }
    let mut raw = vec![0; size];
    let n = snap::raw::Decoder::new()
        .decompress(body, &mut raw)
        .map_err(|e| bad_snappy(e.to_string()))?;
    raw.truncate(n);
    WriteRequest::decode(raw.as_slice()).map_err(|e| IntegrationError::Protobuf {
        system: SYSTEM,
        message: "WriteRequest",
        reason: e.to_string(),
    })
}

/// Encodes a request as a remote_write body: protobuf, then snappy block compression.
///
/// The only failure is a request whose protobuf encoding is larger than a snappy block can
/// hold (about 4 GiB): [`IntegrationError::TooLarge`].
pub fn encode(request: &WriteRequest) -> Result<Vec<u8>> {
    let raw = request.encode_to_vec();
    let too_large = || IntegrationError::TooLarge {
        system: SYSTEM,
        size: raw.len() as u64,
        limit: u64::from(u32::MAX),
    };
    if snap::raw::max_compress_len(raw.len()) == 0 {
        return Err(too_large());
    }
    snap::raw::Encoder::new()
        .compress_vec(&raw)
        .map_err(|_| too_large())
}

/// How [`to_batches`] names a series' resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesOptions {
    /// Labels naming the resource a series is about, in order of preference: the first one
    /// present gives [`SeriesBatch::resource`] (default `["service", "instance", "job"]`).
    pub resource_labels: Vec<String>,
}

impl Default for SeriesOptions {
    fn default() -> Self {
        Self {
            resource_labels: vec!["service".into(), "instance".into(), "job".into()],
        }
    }
}

/// One series of a request, checked and converted to aiops types.
///
/// Samples are sorted by timestamp; where several share a timestamp the last one sent is kept
/// (as Prometheus' own storage would overwrite it) and the others are counted in
/// [`SeriesBatch::duplicates`]. Each kept point is then a value in [`SeriesBatch::samples`]
/// (finite), a staleness marker in [`SeriesBatch::stale`], or counted in
/// [`SeriesBatch::rejected`] (any other NaN, or ±Inf).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeriesBatch {
    /// The series' identity: every label, `__name__` included, sorted by name. Labels with an
    /// empty value are absent, as in Prometheus.
    pub labels: Labels,
    /// The metric name, the value of `__name__`.
    pub metric: String,
    /// The value of the first label of [`SeriesOptions::resource_labels`] present, if any.
    pub resource: Option<String>,
    /// The finite samples, `(timestamp ms, value)`, sorted by timestamp.
    pub samples: Vec<(TimestampMs, f64)>,
    /// Timestamps of the staleness markers (ms), sorted: the series ended there.
    pub stale: Vec<TimestampMs>,
    /// Samples left out because their value was NaN (not a staleness marker) or infinite.
    pub rejected: usize,
    /// Samples left out because a later sample of the series had the same timestamp.
    pub duplicates: usize,
    /// Exemplars the series carried (not converted).
    pub exemplars: usize,
    /// Native histograms the series carried (not converted).
    pub histograms: usize,
}

impl SeriesBatch {
    /// The finite samples as an [`aiops_core::TimeSeries`] with the same labels.
    pub fn to_time_series(&self) -> Result<CoreSeries> {
        let (timestamps, values) = self.samples.iter().copied().unzip();
        Ok(CoreSeries::new(self.labels.clone(), timestamps, values)?)
    }
}

/// What a request held, for the server to log and count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Series.
    pub series: usize,
    /// Finite samples kept.
    pub samples: usize,
    /// Staleness markers.
    pub stale_markers: usize,
    /// Samples refused as NaN (not a staleness marker) or infinite.
    pub rejected: usize,
    /// Samples replaced by a later one with the same timestamp in the same series.
    pub duplicates: usize,
    /// Exemplars (not converted).
    pub exemplars: usize,
    /// Native histograms (not converted).
    pub histograms: usize,
    /// Metric metadata entries.
    pub metadata: usize,
}

impl Summary {
    fn add(&mut self, s: &SeriesBatch) {
        self.series += 1;
        self.samples += s.samples.len();
        self.stale_markers += s.stale.len();
        self.rejected += s.rejected;
        self.duplicates += s.duplicates;
        self.exemplars += s.exemplars;
        self.histograms += s.histograms;
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} series, {} samples, {} stale markers, {} rejected, {} duplicates, \
             {} exemplars, {} histograms, {} metadata",
            self.series,
            self.samples,
            self.stale_markers,
            self.rejected,
            self.duplicates,
            self.exemplars,
            self.histograms,
            self.metadata
        )
    }
}

/// A decoded request converted to aiops types.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Batches {
    /// The series, in request order.
    pub series: Vec<SeriesBatch>,
    /// Totals over the request.
    pub summary: Summary,
}

/// Checks and converts every series of a request (see [`SeriesBatch`] for how samples are
/// ordered and sorted out).
///
/// The whole request is refused at its first invalid series, with
/// [`IntegrationError::Series`] naming the series' index: no `__name__` (or an invalid metric
/// name), an empty or invalid label name (`[a-zA-Z_][a-zA-Z0-9_]*`), or a label name twice.
pub fn to_batches(request: &WriteRequest, options: &SeriesOptions) -> Result<Batches> {
    let mut summary = Summary {
        metadata: request.metadata.len(),
        ..Summary::default()
    };
    let mut series = Vec::with_capacity(request.timeseries.len());
    for (index, ts) in request.timeseries.iter().enumerate() {
        let batch = convert_series(ts, options).map_err(|reason| IntegrationError::Series {
            system: SYSTEM,
            index,
            reason,
        })?;
        summary.add(&batch);
        series.push(batch);
    }
    Ok(Batches { series, summary })
}

/// Decodes a body and converts it: [`decode`] then [`to_batches`].
pub fn decode_batches(body: &[u8], limits: &Limits, options: &SeriesOptions) -> Result<Batches> {
    to_batches(&decode(body, limits)?, options)
}

/// One series, or what is wrong with it.
fn convert_series(
    ts: &TimeSeries,
    options: &SeriesOptions,
) -> std::result::Result<SeriesBatch, String> {
    let mut pairs: Vec<(&str, &str)> = Vec::with_capacity(ts.labels.len());
    for l in &ts.labels {
        if l.name.is_empty() {
            return Err("empty label name".into());
        }
        if !is_valid_label_name(&l.name) {
            return Err(format!(
                "invalid label name {:?} (expected [a-zA-Z_][a-zA-Z0-9_]*)",
                l.name
            ));
        }
        pairs.push((&l.name, &l.value));
    }
    pairs.sort_by(|a, b| a.0.cmp(b.0));
    if let Some(w) = pairs.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(format!("duplicate label name {:?}", w[0].0));
    }
    let metric = pairs
        .iter()
        .find(|(k, _)| *k == METRIC_NAME_LABEL)
        .map(|(_, v)| *v)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| format!("no {METRIC_NAME_LABEL} label"))?;
    if !is_valid_metric_name(metric) {
        return Err(format!(
            "invalid metric name {metric:?} (expected [a-zA-Z_:][a-zA-Z0-9_:]*)"
        ));
    }
    let labels = Labels::try_from_pairs(pairs.iter().filter(|(_, v)| !v.is_empty()).copied())
        .map_err(|e| e.to_string())?;
    let resource = options
        .resource_labels
        .iter()
        .find_map(|name| labels.get(name))
        .map(str::to_string);

    // Stable sort, then keep the last of each run of equal timestamps.
    let mut points: Vec<(i64, f64)> = ts.samples.iter().map(|s| (s.timestamp, s.value)).collect();
    points.sort_by_key(|p| p.0);
    let mut samples = Vec::with_capacity(points.len());
    let mut stale = Vec::new();
    let (mut rejected, mut duplicates) = (0, 0);
    for (i, &(t, v)) in points.iter().enumerate() {
        if points.get(i + 1).is_some_and(|next| next.0 == t) {
            duplicates += 1;
        } else if is_stale_marker(v) {
            stale.push(t);
        } else if v.is_finite() {
            samples.push((t, v));
        } else {
            rejected += 1;
        }
    }
    Ok(SeriesBatch {
        labels,
        metric: metric.to_string(),
        resource,
        samples,
        stale,
        rejected,
        duplicates,
        exemplars: ts.exemplars.len(),
        histograms: ts.histograms.len(),
    })
}
