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

use std::collections::HashMap;
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
    /// [`MetricType::Unknown`] through the generated `r#type()` getter).
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
    let raw = decompress(body, limits)?;
    WriteRequest::decode(raw.as_slice()).map_err(|e| bad_protobuf(e.to_string()))
}

fn bad_protobuf(reason: String) -> IntegrationError {
    IntegrationError::Protobuf {
        system: SYSTEM,
        message: "WriteRequest",
        reason,
    }
}

/// The snappy step of [`decode`]: the protobuf bytes of a body, with the same checks and
/// errors (size limit before allocating, framed format and malformed blocks refused).
pub fn decompress(body: &[u8], limits: &Limits) -> Result<Vec<u8>> {
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
    Ok(raw)
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
/// Every wire entry with the same labels is merged into one batch: Prometheus 2.x sends each
/// sample as its own `TimeSeries` entry, so a request holds the same series many times.
/// Samples are sorted by timestamp; where several share a timestamp the last one in request
/// order is kept and the others are counted in [`SeriesBatch::duplicates`]. Each kept point
/// is then a value in [`SeriesBatch::samples`] (finite), a staleness marker in
/// [`SeriesBatch::stale`], or counted in [`SeriesBatch::rejected`] (any other NaN, or ±Inf).
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
    /// The finite samples as an [`aiops_core::TimeSeries`] with the same labels. It cannot
    /// fail for a batch made by [`to_batches`]; a batch edited by hand with unsorted or
    /// repeated timestamps is refused ([`IntegrationError::Core`]).
    pub fn to_time_series(&self) -> Result<CoreSeries> {
        let (timestamps, values) = self.samples.iter().copied().unzip();
        Ok(CoreSeries::new(self.labels.clone(), timestamps, values)?)
    }
}

/// What a request held, for the server to log and count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// `TimeSeries` entries on the wire.
    pub entries: usize,
    /// Distinct series (entries with the same labels merged).
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
    /// Samples sent by a Prometheus HA replica that is not the elected one of its cluster:
    /// acknowledged without being stored, since the elected replica sends the same series.
    pub standby_samples: usize,
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
            "{} entries, {} series, {} samples, {} stale markers, {} rejected, {} duplicates, \
             {} exemplars, {} histograms, {} metadata",
            self.entries,
            self.series,
            self.samples,
            self.stale_markers,
            self.rejected,
            self.duplicates,
            self.exemplars,
            self.histograms,
            self.metadata
        )?;
        if self.standby_samples > 0 {
            write!(f, ", {} from a standby HA replica", self.standby_samples)?;
        }
        Ok(())
    }
}

/// A decoded request converted to aiops types.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Batches {
    /// The distinct series, in order of first appearance in the request.
    pub series: Vec<SeriesBatch>,
    /// Totals over the request.
    pub summary: Summary,
}

/// Checks and converts every series of a request (see [`SeriesBatch`] for how entries are
/// merged and samples ordered and sorted out).
///
/// The whole request is refused at its first invalid entry, with [`IntegrationError::Series`]
/// naming the entry's index in `timeseries`: no `__name__` (or an invalid metric name), an
/// empty or invalid label name (`[a-zA-Z_][a-zA-Z0-9_]*`), or a label name twice.
pub fn to_batches(request: &WriteRequest, options: &SeriesOptions) -> Result<Batches> {
    let mut index_of: HashMap<Labels, usize> = HashMap::new();
    let mut groups: Vec<Group> = Vec::new();
    for (index, ts) in request.timeseries.iter().enumerate() {
        let (labels, metric) = identify(ts).map_err(|reason| IntegrationError::Series {
            system: SYSTEM,
            index,
            reason,
        })?;
        let g = match index_of.get(&labels) {
            Some(&g) => g,
            None => {
                index_of.insert(labels.clone(), groups.len());
                groups.push(Group {
                    labels,
                    metric,
                    points: Vec::new(),
                    exemplars: 0,
                    histograms: 0,
                });
                groups.len() - 1
            }
        };
        let group = &mut groups[g];
        group
            .points
            .extend(ts.samples.iter().map(|s| (s.timestamp, s.value)));
        group.exemplars += ts.exemplars.len();
        group.histograms += ts.histograms.len();
    }
    let mut summary = Summary {
        entries: request.timeseries.len(),
        metadata: request.metadata.len(),
        ..Summary::default()
    };
    let series: Vec<SeriesBatch> = groups.into_iter().map(|g| g.finish(options)).collect();
    for s in &series {
        summary.add(s);
    }
    Ok(Batches { series, summary })
}

/// Decodes a body and converts it: [`decode`] then [`to_batches`].
pub fn decode_batches(body: &[u8], limits: &Limits, options: &SeriesOptions) -> Result<Batches> {
    to_batches(&decode(body, limits)?, options)
}

/// The entries of one series gathered so far.
struct Group {
    labels: Labels,
    metric: String,
    /// `(timestamp ms, value)` in request order.
    points: Vec<(TimestampMs, f64)>,
    exemplars: usize,
    histograms: usize,
}

impl Group {
    /// Sorts the points (stable, so the last of equal timestamps stays last), keeps the last
    /// of each timestamp and sorts them into samples, staleness markers and rejected values.
    fn finish(mut self, options: &SeriesOptions) -> SeriesBatch {
        let resource = options
            .resource_labels
            .iter()
            .find_map(|name| self.labels.get(name))
            .map(str::to_string);
        self.points.sort_by_key(|p| p.0);
        let mut samples = Vec::with_capacity(self.points.len());
        let mut stale = Vec::new();
        let (mut rejected, mut duplicates) = (0, 0);
        for (i, &(t, v)) in self.points.iter().enumerate() {
            if self.points.get(i + 1).is_some_and(|next| next.0 == t) {
                duplicates += 1;
            } else if is_stale_marker(v) {
                stale.push(t);
            } else if v.is_finite() {
                samples.push((t, v));
            } else {
                rejected += 1;
            }
        }
        SeriesBatch {
            labels: self.labels,
            metric: self.metric,
            resource,
            samples,
            stale,
            rejected,
            duplicates,
            exemplars: self.exemplars,
            histograms: self.histograms,
        }
    }
}

/// The checked identity of an entry (its labels, sorted, and its metric name), or what is
/// wrong with it.
fn identify(ts: &TimeSeries) -> std::result::Result<(Labels, String), String> {
    let pairs: Vec<(&str, &str)> = ts
        .labels
        .iter()
        .map(|l| (l.name.as_str(), l.value.as_str()))
        .collect();
    identify_pairs(pairs)
}

/// [`identify`] on `(name, value)` pairs in wire order.
fn identify_pairs(mut pairs: Vec<(&str, &str)>) -> std::result::Result<(Labels, String), String> {
    for &(name, _) in &pairs {
        if name.is_empty() {
            return Err("empty label name".into());
        }
        if !is_valid_label_name(name) {
            return Err(format!(
                "invalid label name {name:?} (expected [a-zA-Z_][a-zA-Z0-9_]*)"
            ));
        }
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
    Ok((labels, metric.to_string()))
}

/// A `WriteRequest` read without copying: label names and values borrow the protobuf bytes,
/// samples are gathered in one vector. For a server that identifies series by their label
/// bytes (a known series then costs no allocation); [`WriteRequestView::identify`] checks and
/// converts an entry as [`to_batches`] does.
///
/// Accepts what [`decode`] accepts, with the same fields; strings are checked to be UTF-8 only
/// by [`WriteRequestView::identify`] (and labels equal, byte for byte, to an identified entry's
/// are as valid as those).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WriteRequestView<'a> {
    entries: Vec<EntryView>,
    labels: Vec<(&'a [u8], &'a [u8])>,
    samples: Vec<Sample>,
    metadata: usize,
}

/// Where one `TimeSeries` entry's labels and samples are in a [`WriteRequestView`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct EntryView {
    labels: (u32, u32),
    samples: (u32, u32),
    exemplars: u32,
    histograms: u32,
}

/// A protobuf reader over a byte slice (just what `WriteRequest` needs).
struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> std::result::Result<u64, String> {
        let mut v = 0u64;
        for i in 0..10 {
            let (&b, rest) = self
                .buf
                .split_first()
                .ok_or_else(|| "buffer underflow (varint)".to_string())?;
            self.buf = rest;
            v |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err("invalid varint".into())
    }

    fn take(&mut self, n: usize) -> std::result::Result<&'a [u8], String> {
        if n > self.buf.len() {
            return Err("buffer underflow".into());
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    /// The next field's number and wire type, or None at the end.
    fn key(&mut self) -> std::result::Result<Option<(u64, u8)>, String> {
        if self.buf.is_empty() {
            return Ok(None);
        }
        let k = self.varint()?;
        let (tag, wire) = (k >> 3, (k & 7) as u8);
        if tag == 0 {
            return Err("invalid tag value: 0".into());
        }
        Ok(Some((tag, wire)))
    }

    fn bytes(&mut self) -> std::result::Result<&'a [u8], String> {
        let n = self.varint()?;
        self.take(usize::try_from(n).map_err(|_| "length overflow".to_string())?)
    }

    fn fixed64(&mut self) -> std::result::Result<[u8; 8], String> {
        let b = self.take(8)?;
        let mut out = [0; 8];
        out.copy_from_slice(b);
        Ok(out)
    }

    /// Skips a field of this wire type (groups included, as prost does).
    fn skip(&mut self, tag: u64, wire: u8) -> std::result::Result<(), String> {
        match wire {
            0 => self.varint().map(drop),
            1 => self.take(8).map(drop),
            2 => self.bytes().map(drop),
            5 => self.take(4).map(drop),
            3 => loop {
                match self.key()? {
                    Some((t, 4)) if t == tag => return Ok(()),
                    Some((t, w)) => self.skip(t, w)?,
                    None => return Err("unexpected end of group".into()),
                }
            },
            w => Err(format!("invalid wire type value: {w}")),
        }
    }
}

/// A known field with an unexpected wire type (prost refuses it too).
fn wire_error(message: &str, field: &str, wire: u8) -> String {
    format!("{message}.{field}: invalid wire type: {wire}")
}

impl<'a> WriteRequestView<'a> {
    /// Reads the protobuf bytes of a `WriteRequest` (a body after [`decompress`]); refuses
    /// malformed bytes with [`IntegrationError::Protobuf`].
    pub fn parse(raw: &'a [u8]) -> Result<Self> {
        let mut view = WriteRequestView::default();
        view.read(raw).map_err(bad_protobuf)?;
        Ok(view)
    }

    fn read(&mut self, raw: &'a [u8]) -> std::result::Result<(), String> {
        let mut r = Reader { buf: raw };
        while let Some((tag, wire)) = r.key()? {
            match (tag, wire) {
                (1, 2) => {
                    let ts = r.bytes()?;
                    self.read_series(ts)?;
                }
                (1, w) => return Err(wire_error("WriteRequest", "timeseries", w)),
                (3, 2) => {
                    r.bytes()?;
                    self.metadata += 1;
                }
                (3, w) => return Err(wire_error("WriteRequest", "metadata", w)),
                (t, w) => r.skip(t, w)?,
            }
        }
        Ok(())
    }

    fn read_series(&mut self, raw: &'a [u8]) -> std::result::Result<(), String> {
        let mut e = EntryView {
            labels: (self.labels.len() as u32, 0),
            samples: (self.samples.len() as u32, 0),
            ..EntryView::default()
        };
        let mut r = Reader { buf: raw };
        while let Some((tag, wire)) = r.key()? {
            match (tag, wire) {
                (1, 2) => {
                    let mut l = Reader { buf: r.bytes()? };
                    let (mut name, mut value): (&[u8], &[u8]) = (b"", b"");
                    while let Some((tag, wire)) = l.key()? {
                        match (tag, wire) {
                            (1, 2) => name = l.bytes()?,
                            (2, 2) => value = l.bytes()?,
                            (1 | 2, w) => return Err(wire_error("Label", "name/value", w)),
                            (t, w) => l.skip(t, w)?,
                        }
                    }
                    self.labels.push((name, value));
                }
                (2, 2) => {
                    let mut s = Reader { buf: r.bytes()? };
                    let mut sample = Sample::default();
                    while let Some((tag, wire)) = s.key()? {
                        match (tag, wire) {
                            (1, 1) => sample.value = f64::from_le_bytes(s.fixed64()?),
                            (2, 0) => sample.timestamp = s.varint()? as i64,
                            (1, w) => return Err(wire_error("Sample", "value", w)),
                            (2, w) => return Err(wire_error("Sample", "timestamp", w)),
                            (t, w) => s.skip(t, w)?,
                        }
                    }
                    self.samples.push(sample);
                }
                (3, 2) => {
                    r.bytes()?;
                    e.exemplars += 1;
                }
                (4, 2) => {
                    r.bytes()?;
                    e.histograms += 1;
                }
                (1..=4, w) => return Err(wire_error("TimeSeries", "field", w)),
                (t, w) => r.skip(t, w)?,
            }
        }
        e.labels.1 = self.labels.len() as u32;
        e.samples.1 = self.samples.len() as u32;
        self.entries.push(e);
        Ok(())
    }

    /// `TimeSeries` entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when the request holds no entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Metric metadata entries.
    pub fn metadata(&self) -> usize {
        self.metadata
    }

    /// The labels of entry `i`, `(name, value)` bytes in wire order.
    pub fn labels(&self, i: usize) -> &[(&'a [u8], &'a [u8])] {
        let (a, b) = self.entries[i].labels;
        &self.labels[a as usize..b as usize]
    }

    /// The samples of entry `i`, in wire order.
    pub fn samples(&self, i: usize) -> &[Sample] {
        let (a, b) = self.entries[i].samples;
        &self.samples[a as usize..b as usize]
    }

    /// The value of the first label named `name` of entry `i`, if it has one.
    pub fn label_value(&self, i: usize, name: &[u8]) -> Option<&'a [u8]> {
        self.labels(i)
            .iter()
            .find(|(n, _)| *n == name)
            .map(|&(_, v)| v)
    }

    /// Removes every label named `name` from every entry (as if it had not been sent); the
    /// number removed.
    pub fn drop_label(&mut self, name: &[u8]) -> usize {
        let mut kept = 0usize;
        for e in &mut self.entries {
            let (a, b) = e.labels;
            let start = kept;
            for j in a as usize..b as usize {
                if self.labels[j].0 != name {
                    self.labels[kept] = self.labels[j];
                    kept += 1;
                }
            }
            e.labels = (start as u32, kept as u32);
        }
        let removed = self.labels.len() - kept;
        self.labels.truncate(kept);
        removed
    }

    /// Samples of every entry.
    pub fn samples_len(&self) -> usize {
        self.samples.len()
    }

    /// Exemplars of entry `i` (not decoded).
    pub fn exemplars(&self, i: usize) -> usize {
        self.entries[i].exemplars as usize
    }

    /// Native histograms of entry `i` (not decoded).
    pub fn histograms(&self, i: usize) -> usize {
        self.entries[i].histograms as usize
    }

    /// Checks entry `i` and returns its labels (sorted, empty values left out) and metric
    /// name, as [`to_batches`] does: [`IntegrationError::Series`] with the index when it is
    /// invalid, [`IntegrationError::Protobuf`] when a name or value is not UTF-8.
    pub fn identify(&self, i: usize) -> Result<(Labels, String)> {
        let mut pairs = Vec::with_capacity(self.labels(i).len());
        for &(n, v) in self.labels(i) {
            let utf8 = |b: &'a [u8]| {
                std::str::from_utf8(b).map_err(|_| {
                    bad_protobuf(
                        "failed to decode Protobuf message: Label: invalid string value: data is not UTF-8 encoded".into(),
                    )
                })
            };
            pairs.push((utf8(n)?, utf8(v)?));
        }
        identify_pairs(pairs).map_err(|reason| IntegrationError::Series {
            system: SYSTEM,
            index: i,
            reason,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(name: &str, value: &str) -> Label {
        Label {
            name: name.into(),
            value: value.into(),
        }
    }

    fn sample(timestamp: i64, value: f64) -> Sample {
        Sample { value, timestamp }
    }

    fn series(labels: &[(&str, &str)], samples: &[(i64, f64)]) -> TimeSeries {
        TimeSeries {
            labels: labels.iter().map(|(k, v)| label(k, v)).collect(),
            samples: samples.iter().map(|&(t, v)| sample(t, v)).collect(),
            ..TimeSeries::default()
        }
    }

    fn request(timeseries: Vec<TimeSeries>) -> WriteRequest {
        WriteRequest {
            timeseries,
            metadata: Vec::new(),
        }
    }

    fn convert(req: &WriteRequest) -> Result<Batches> {
        to_batches(req, &SeriesOptions::default())
    }

    /// `WriteRequest{timeseries: [{labels: [__name__="up", job="api"], samples: [{1.0, 1000}]}],
    /// metadata: [{GAUGE, "up", help "h", unit "s"}]}`, encoded by hand: protobuf, then a
    /// snappy block holding it as one literal.
    const GOLDEN: &[u8] = &[
        0x3a, // snappy: decompressed length 58 (varint)
        0xe4, // snappy: literal of (0xe4 >> 2) + 1 = 58 bytes
        0x0a, 0x2a, // WriteRequest.timeseries (1, length-delimited), 42 bytes
        0x0a, 0x0e, // TimeSeries.labels (1), 14 bytes
        0x0a, 0x08, b'_', b'_', b'n', b'a', b'm', b'e', b'_', b'_', // Label.name (1)
        0x12, 0x02, b'u', b'p', // Label.value (2)
        0x0a, 0x0a, // TimeSeries.labels (1), 10 bytes
        0x0a, 0x03, b'j', b'o', b'b', // Label.name
        0x12, 0x03, b'a', b'p', b'i', // Label.value
        0x12, 0x0c, // TimeSeries.samples (2), 12 bytes
        0x09, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, // Sample.value (1, fixed64) = 1.0
        0x10, 0xe8, 0x07, // Sample.timestamp (2, varint) = 1000
        0x1a, 0x0c, // WriteRequest.metadata (3), 12 bytes
        0x08, 0x02, // MetricMetadata.type (1) = GAUGE
        0x12, 0x02, b'u', b'p', // metric_family_name (2)
        0x22, 0x01, b'h', // help (4)
        0x2a, 0x01, b's', // unit (5)
    ];

    fn golden_request() -> WriteRequest {
        WriteRequest {
            timeseries: vec![series(
                &[("__name__", "up"), ("job", "api")],
                &[(1000, 1.0)],
            )],
            metadata: vec![MetricMetadata {
                r#type: MetricType::Gauge as i32,
                metric_family_name: "up".into(),
                help: "h".into(),
                unit: "s".into(),
            }],
        }
    }

    #[test]
    fn golden_bytes_pin_the_field_numbers() {
        let req = decode(GOLDEN, &Limits::default()).unwrap();
        assert_eq!(req, golden_request());
        assert_eq!(req.metadata[0].r#type(), MetricType::Gauge);
        // prost writes fields in tag order, as Prometheus does: the same protobuf bytes.
        assert_eq!(golden_request().encode_to_vec(), &GOLDEN[2..]);
        let b = convert(&req).unwrap();
        assert_eq!(b.series[0].metric, "up");
        assert_eq!(b.series[0].samples, [(1000, 1.0)]);
        assert_eq!(b.summary.metadata, 1);
    }

    #[test]
    fn exemplars_and_histograms_are_read_and_counted() {
        // TimeSeries{labels: [__name__="m"], exemplars: [{labels: [trace_id="t"], 2.0, 5}],
        // histograms: [<3 bytes>]}, by hand.
        let ts: &[u8] = &[
            0x0a, 0x0d, 0x0a, 0x08, b'_', b'_', b'n', b'a', b'm', b'e', b'_', b'_', 0x12, 0x01,
            b'm', // labels (1)
            0x1a, 0x1a, // exemplars (3), 26 bytes
            0x0a, 0x0d, 0x0a, 0x08, b't', b'r', b'a', b'c', b'e', b'_', b'i', b'd', 0x12, 0x01,
            b't', // Exemplar.labels (1)
            0x11, 0, 0, 0, 0, 0, 0, 0, 0x40, // Exemplar.value (2) = 2.0
            0x18, 0x05, // Exemplar.timestamp (3) = 5
            0x22, 0x03, 0x08, 0x01, 0x10, // histograms (4), raw
        ];
        let mut body = vec![0x0a, ts.len() as u8];
        body.extend_from_slice(ts);
        let req = WriteRequest::decode(body.as_slice()).unwrap();
        let s = &req.timeseries[0];
        assert_eq!(s.exemplars.len(), 1);
        assert_eq!(s.exemplars[0].labels, [label("trace_id", "t")]);
        assert_eq!((s.exemplars[0].value, s.exemplars[0].timestamp), (2.0, 5));
        assert_eq!(s.histograms, [vec![0x08, 0x01, 0x10]]);
        assert_eq!(req.encode_to_vec(), body);
        let sum = convert(&req).unwrap().summary;
        assert_eq!((sum.exemplars, sum.histograms, sum.samples), (1, 1, 0));
    }

    #[test]
    fn round_trip() {
        let mut req = golden_request();
        req.timeseries.push(TimeSeries {
            exemplars: vec![Exemplar {
                labels: vec![label("trace_id", "abc")],
                value: 0.25,
                timestamp: 1500,
            }],
            histograms: vec![vec![1, 2, 3]],
            ..series(
                &[("__name__", "http_requests_total"), ("service", "cart")],
                &[(1000, 3.0), (2000, f64::from_bits(STALE_NAN_BITS))],
            )
        });
        let body = encode(&req).unwrap();
        let back = decode(&body, &Limits::default()).unwrap();
        assert_eq!(back.timeseries.len(), 2);
        assert_eq!(back.metadata, req.metadata);
        // The stale NaN keeps its bits (NaN != NaN, so compare bit patterns).
        assert!(is_stale_marker(back.timeseries[1].samples[1].value));
        assert_eq!(back.timeseries[1].exemplars, req.timeseries[1].exemplars);
        assert_eq!(back.timeseries[1].histograms, req.timeseries[1].histograms);
        assert_eq!(back.encode_to_vec(), req.encode_to_vec());
    }

    #[test]
    fn the_view_reads_what_prost_reads() {
        let mut req = golden_request();
        req.timeseries.push(TimeSeries {
            exemplars: vec![Exemplar {
                labels: vec![label("trace_id", "abc")],
                value: 0.25,
                timestamp: 1500,
            }],
            histograms: vec![vec![1, 2, 3], vec![]],
            ..series(
                &[
                    ("service", "cart"),
                    ("__name__", "http_requests_total"),
                    ("x", ""),
                ],
                &[
                    (-1000, 3.0),
                    (2000, f64::from_bits(STALE_NAN_BITS)),
                    (0, 0.0),
                ],
            )
        });
        req.timeseries.push(series(&[], &[]));
        let raw = req.encode_to_vec();
        let view = WriteRequestView::parse(&raw).unwrap();
        assert_eq!(view.len(), req.timeseries.len());
        assert_eq!(view.metadata(), 1);
        for (i, ts) in req.timeseries.iter().enumerate() {
            let labels: Vec<(&[u8], &[u8])> = ts
                .labels
                .iter()
                .map(|l| (l.name.as_bytes(), l.value.as_bytes()))
                .collect();
            assert_eq!(view.labels(i), labels.as_slice());
            let bits = |s: &[Sample]| -> Vec<(i64, u64)> {
                s.iter().map(|s| (s.timestamp, s.value.to_bits())).collect()
            };
            assert_eq!(bits(view.samples(i)), bits(&ts.samples));
            assert_eq!(view.exemplars(i), ts.exemplars.len());
            assert_eq!(view.histograms(i), ts.histograms.len());
        }
        let (labels, metric) = view.identify(1).unwrap();
        assert_eq!(metric, "http_requests_total");
        let golden = to_batches(&golden_request(), &SeriesOptions::default()).unwrap();
        assert_eq!(view.identify(0).unwrap().0, golden.series[0].labels);
        assert_eq!(
            labels.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            ["__name__", "service"]
        );
        match view.identify(2) {
            Err(IntegrationError::Series {
                index: 2, reason, ..
            }) => {
                assert!(reason.contains("__name__"), "{reason}")
            }
            other => panic!("{other:?}"),
        }

        // A label dropped from every entry (an HA replica label): the others keep their order.
        let mut dropped = view.clone();
        assert_eq!(dropped.label_value(1, b"service"), Some(&b"cart"[..]));
        assert_eq!(dropped.label_value(1, b"zone"), None);
        assert_eq!(dropped.drop_label(b"service"), 1);
        assert_eq!(dropped.label_value(1, b"service"), None);
        let names = |i: usize| dropped.labels(i).iter().map(|l| l.0).collect::<Vec<_>>();
        assert_eq!(names(1), [&b"__name__"[..], b"x"]);
        assert_eq!(dropped.identify(0).unwrap().1, golden.series[0].metric);
        assert!(dropped.labels(2).is_empty());
        assert_eq!(dropped.drop_label(b"service"), 0);
        // Truncated or mistyped bytes are refused like prost refuses them.
        assert!(matches!(
            WriteRequestView::parse(&raw[..raw.len() - 3]),
            Err(IntegrationError::Protobuf { .. })
        ));
        assert!(WriteRequest::decode(&[0x08u8, 0x01][..]).is_err());
        assert!(matches!(
            WriteRequestView::parse(&[0x08, 0x01]),
            Err(IntegrationError::Protobuf { .. })
        ));
        // Unknown fields are skipped.
        let mut extra = raw.clone();
        extra.extend_from_slice(&[0x28, 0x05, 0x31, 1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(
            format!("{:?}", WriteRequestView::parse(&extra).unwrap()),
            format!("{view:?}")
        );
        // Not UTF-8: refused when identified.
        let bad = WriteRequest {
            timeseries: vec![TimeSeries {
                labels: vec![label("__name__", "up")],
                ..TimeSeries::default()
            }],
            metadata: Vec::new(),
        }
        .encode_to_vec();
        let mut bad = bad;
        let at = bad.len() - 1;
        bad[at] = 0xff;
        assert!(matches!(
            WriteRequestView::parse(&bad).unwrap().identify(0),
            Err(IntegrationError::Protobuf { .. })
        ));
        assert!(WriteRequest::decode(bad.as_slice()).is_err());
    }

    #[test]
    fn malformed_snappy_is_refused() {
        let limits = Limits::default();
        for body in [
            &b""[..],
            &[0x0a, 0xff, 0x01][..], // literal longer than the input
            &[0x80][..],             // truncated length varint
            b"\xff\x06\x00\x00sNaPpY\x01",
        ] {
            match decode(body, &limits) {
                Err(IntegrationError::Decompress { system: SYSTEM, .. }) => {}
                other => panic!("{body:?}: {other:?}"),
            }
        }
        let e = decode(b"\xff\x06\x00\x00sNaPpY", &limits).unwrap_err();
        assert!(e.to_string().contains("framed"), "{e}");
    }

    #[test]
    fn truncated_protobuf_is_refused() {
        let raw = golden_request().encode_to_vec();
        let cut = snap::raw::Encoder::new()
            .compress_vec(&raw[..raw.len() - 3])
            .unwrap();
        match decode(&cut, &Limits::default()) {
            Err(e @ IntegrationError::Protobuf { .. }) => {
                let text = e.to_string();
                assert!(text.contains("WriteRequest"), "{text}");
                assert!(text.contains(SYSTEM), "{text}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn oversized_body_is_refused_before_decompressing() {
        // A header declaring 1 GiB followed by nothing: refused for its size, not for being
        // truncated, so nothing was allocated or decompressed.
        let body = [0x80, 0x80, 0x80, 0x80, 0x04, 0x00];
        match decode(&body, &Limits::default()) {
            Err(IntegrationError::TooLarge { size, limit, .. }) => {
                assert_eq!((size, limit), (1 << 30, 32 << 20));
            }
            other => panic!("{other:?}"),
        }
        let golden_limit = Limits {
            max_decoded_bytes: 57,
        };
        let e = decode(GOLDEN, &golden_limit).unwrap_err();
        assert_eq!(
            e.to_string(),
            "prometheus remote_write body: decompressed size 58 bytes is over the limit of 57 bytes"
        );
        assert!(
            decode(
                GOLDEN,
                &Limits {
                    max_decoded_bytes: 58
                }
            )
            .is_ok()
        );
    }

    fn series_error(req: &WriteRequest) -> (usize, String) {
        match convert(req) {
            Err(IntegrationError::Series { index, reason, .. }) => (index, reason),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn invalid_series_name_their_index() {
        let ok = series(&[("__name__", "up")], &[(1, 1.0)]);
        let with = |bad: TimeSeries| request(vec![ok.clone(), ok.clone(), bad]);
        let (i, r) = series_error(&with(series(&[("job", "api")], &[(1, 1.0)])));
        assert_eq!((i, r.as_str()), (2, "no __name__ label"));
        let (_, r) = series_error(&with(series(&[("__name__", "")], &[])));
        assert_eq!(r, "no __name__ label");
        let (_, r) = series_error(&with(series(
            &[("__name__", "up"), ("job", "a"), ("job", "b")],
            &[],
        )));
        assert_eq!(r, r#"duplicate label name "job""#);
        let (_, r) = series_error(&with(series(&[("__name__", "up"), ("", "x")], &[])));
        assert_eq!(r, "empty label name");
        let (_, r) = series_error(&with(series(&[("__name__", "up"), ("a-b", "x")], &[])));
        assert!(r.contains(r#""a-b""#), "{r}");
        let (_, r) = series_error(&with(series(&[("__name__", "1up")], &[])));
        assert!(r.contains("invalid metric name"), "{r}");
        let e = convert(&with(series(&[("job", "api")], &[]))).unwrap_err();
        assert_eq!(
            e.to_string(),
            "prometheus remote_write series 2: no __name__ label"
        );
    }

    #[test]
    fn labels_are_sorted_and_empty_values_absent() {
        let req = request(vec![series(
            &[
                ("zone", "eu"),
                ("__name__", "up"),
                ("env", ""),
                ("job", "api"),
            ],
            &[],
        )]);
        let b = &convert(&req).unwrap().series[0];
        assert_eq!(
            b.labels.iter().collect::<Vec<_>>(),
            [("__name__", "up"), ("job", "api"), ("zone", "eu")]
        );
    }

    #[test]
    fn samples_sorted_duplicates_keep_the_last() {
        let req = request(vec![series(
            &[("__name__", "m")],
            &[
                (3000, 3.0),
                (1000, 1.0),
                (2000, 2.0),
                (1000, 1.5),
                (2000, f64::NAN),
            ],
        )]);
        let b = convert(&req).unwrap();
        let s = &b.series[0];
        assert_eq!(s.samples, [(1000, 1.5), (3000, 3.0)]);
        // The last sample at 2000 is a NaN: it wins over 2.0 and is rejected.
        assert_eq!((s.duplicates, s.rejected), (2, 1));
        assert_eq!(
            b.summary.samples + b.summary.rejected + b.summary.duplicates,
            5
        );
        let ts = s.to_time_series().unwrap();
        assert_eq!(ts.timestamps(), [1000, 3000]);
        assert_eq!(ts.labels().get("__name__"), Some("m"));
    }

    #[test]
    fn entries_of_one_series_are_merged() {
        // As Prometheus 2.x sends them: one entry per sample, labels in any order here.
        let req = request(vec![
            series(&[("__name__", "m"), ("job", "a")], &[(2000, 2.0)]),
            series(&[("__name__", "m"), ("job", "b")], &[(1000, 9.0)]),
            series(&[("job", "a"), ("__name__", "m")], &[(1000, 1.0)]),
            series(
                &[("__name__", "m"), ("job", "a"), ("env", "")],
                &[(2000, 2.5)],
            ),
        ]);
        let b = convert(&req).unwrap();
        assert_eq!((b.summary.entries, b.summary.series), (4, 2));
        assert_eq!(b.series[0].labels.get("job"), Some("a"));
        assert_eq!(b.series[0].samples, [(1000, 1.0), (2000, 2.5)]);
        assert_eq!(b.series[0].duplicates, 1);
        assert_eq!(b.series[1].samples, [(1000, 9.0)]);
    }

    #[test]
    fn stale_markers_are_returned_apart() {
        let stale = f64::from_bits(STALE_NAN_BITS);
        assert!(is_stale_marker(stale));
        assert!(!is_stale_marker(f64::NAN));
        let req = request(vec![
            series(&[("__name__", "a")], &[(1000, 1.0), (2000, stale)]),
            series(&[("__name__", "b")], &[(3000, stale)]),
        ]);
        let b = convert(&req).unwrap();
        assert_eq!(b.series[0].samples, [(1000, 1.0)]);
        assert_eq!(b.series[0].stale, [2000]);
        assert_eq!(b.series[1].stale, [3000]);
        assert_eq!((b.summary.stale_markers, b.summary.rejected), (2, 0));
    }

    #[test]
    fn nan_and_infinities_are_counted_not_kept() {
        let req = request(vec![series(
            &[("__name__", "m")],
            &[
                (1, f64::NAN),
                (2, f64::INFINITY),
                (3, f64::NEG_INFINITY),
                (4, -0.5),
            ],
        )]);
        let b = convert(&req).unwrap();
        assert_eq!(b.series[0].samples, [(4, -0.5)]);
        assert_eq!(b.series[0].stale, Vec::<i64>::new());
        assert_eq!(b.summary.rejected, 3);
        assert_eq!(
            b.summary.to_string(),
            "1 entries, 1 series, 1 samples, 0 stale markers, 3 rejected, 0 duplicates, 0 exemplars, \
             0 histograms, 0 metadata"
        );
    }

    #[test]
    fn resource_is_the_first_present_label() {
        let req = request(vec![
            series(
                &[("__name__", "m"), ("job", "j"), ("instance", "h:9100")],
                &[],
            ),
            series(&[("__name__", "m"), ("job", "j"), ("service", "cart")], &[]),
            series(&[("__name__", "m"), ("job", "j")], &[]),
            series(&[("__name__", "m")], &[]),
        ]);
        let resources = |opts: &SeriesOptions| {
            to_batches(&req, opts)
                .unwrap()
                .series
                .into_iter()
                .map(|s| s.resource)
                .collect::<Vec<_>>()
        };
        let some = |s: &str| Some(s.to_string());
        assert_eq!(
            resources(&SeriesOptions::default()),
            [some("h:9100"), some("cart"), some("j"), None]
        );
        let job_first = SeriesOptions {
            resource_labels: vec!["job".into()],
        };
        assert_eq!(
            resources(&job_first),
            [some("j"), some("j"), some("j"), None]
        );
    }

    #[test]
    fn decode_batches_chains_both_steps() {
        let b = decode_batches(GOLDEN, &Limits::default(), &SeriesOptions::default()).unwrap();
        assert_eq!(b.series[0].resource.as_deref(), Some("api"));
        assert_eq!(
            serde_json::to_value(b.summary).unwrap()["samples"],
            serde_json::json!(1)
        );
    }
}
