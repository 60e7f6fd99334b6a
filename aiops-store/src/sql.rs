//! Building statements with `$n` placeholders (the spelling both SQLite and PostgreSQL read)
//! and a variable number of filters or rows.

use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::{Any, Arguments, AssertSqlSafe};

/// One bound value.
#[derive(Debug, Clone)]
pub(crate) enum Value {
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
    NullInt,
    NullReal,
    NullText,
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Real(v)
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}
impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Self {
        Value::Blob(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_string())
    }
}
impl From<Option<i64>> for Value {
    fn from(v: Option<i64>) -> Self {
        v.map_or(Value::NullInt, Value::Int)
    }
}
impl From<Option<f64>> for Value {
    fn from(v: Option<f64>) -> Self {
        v.map_or(Value::NullReal, Value::Real)
    }
}
impl From<Option<String>> for Value {
    fn from(v: Option<String>) -> Self {
        v.map_or(Value::NullText, Value::Text)
    }
}

/// A statement under construction and its arguments, in order.
#[derive(Debug, Default)]
pub(crate) struct Sql {
    pub(crate) text: String,
    values: Vec<Value>,
}

impl Sql {
    pub(crate) fn new(text: &str) -> Self {
        Self {
            text: text.to_string(),
            values: Vec::new(),
        }
    }

    /// Appends text.
    pub(crate) fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends the placeholder of a new argument.
    pub(crate) fn bind(&mut self, v: impl Into<Value>) -> &mut Self {
        self.values.push(v.into());
        self.text.push('$');
        self.text.push_str(&self.values.len().to_string());
        self
    }

    /// Appends `(p1, p2, ...)` for a row of values.
    pub(crate) fn row(&mut self, values: impl IntoIterator<Item = Value>) -> &mut Self {
        self.text.push('(');
        for (i, v) in values.into_iter().enumerate() {
            if i > 0 {
                self.text.push_str(", ");
            }
            self.bind(v);
        }
        self.text.push(')');
        self
    }

    /// The query with its arguments bound.
    pub(crate) fn query(&self) -> Query<'_, Any, AnyArguments> {
        let mut args = AnyArguments::default();
        for v in &self.values {
            // Adding a value of a supported type cannot fail.
            let _ = match v {
                Value::Int(i) => args.add(*i),
                Value::Real(r) => args.add(*r),
                Value::Text(t) => args.add(t.as_str()),
                Value::Blob(b) => args.add(b.as_slice()),
                Value::NullInt => args.add(None::<i64>),
                Value::NullReal => args.add(None::<f64>),
                Value::NullText => args.add(None::<String>),
            };
        }
        // The text is made of this crate's constant fragments and `$n` placeholders only:
        // every value is bound.
        sqlx::query_with(AssertSqlSafe(self.text.clone()), args)
    }
}

/// `WHERE a AND b ...` built from optional filters.
#[derive(Debug)]
pub(crate) struct Where {
    sql: Sql,
    any: bool,
}

impl Where {
    pub(crate) fn new(select: &str) -> Self {
        Self {
            sql: Sql::new(select),
            any: false,
        }
    }

    fn join(&mut self) {
        self.sql.push(if self.any { " AND " } else { " WHERE " });
        self.any = true;
    }

    /// `column OP $n` when `value` is given (`op` like `=`, `>=`, `<`).
    pub(crate) fn opt(&mut self, column: &str, op: &str, value: Option<impl Into<Value>>) {
        if let Some(v) = value {
            self.join();
            self.sql.push(column).push(" ").push(op).push(" ").bind(v);
        }
    }

    /// Ends the filters; the statement can be extended (ORDER BY, LIMIT).
    pub(crate) fn done(self) -> Sql {
        self.sql
    }
}

/// Keys looked up per statement by [`ids_by_key`].
const KEYS_PER_QUERY: usize = 500;

/// The ids of the rows of `table` whose `key_column` is one of `keys` (None for a key no row
/// has), in the order given; nothing is created.
pub(crate) async fn ids_by_key(
    pool: &sqlx::AnyPool,
    table: &str,
    key_column: &str,
    keys: &[&str],
) -> crate::error::Result<Vec<Option<i64>>> {
    use sqlx::Row;
    let mut found: std::collections::HashMap<String, i64> = std::collections::HashMap::new();
    for chunk in keys.chunks(KEYS_PER_QUERY) {
        let mut q = Sql::new(&format!(
            "SELECT {key_column}, id FROM {table} WHERE {key_column} IN ("
        ));
        for (i, k) in chunk.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.bind(*k);
        }
        q.push(")");
        for r in q.query().fetch_all(pool).await? {
            found.insert(r.try_get(0)?, r.try_get(1)?);
        }
    }
    Ok(keys.iter().map(|k| found.get(*k).copied()).collect())
}
