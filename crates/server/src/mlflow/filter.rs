//! MLflow search filters and orderings: `metrics.loss < 0.5 and params.lr = '0.01'`,
//! `attributes.status = 'FINISHED'`, `tags.\`my tag\` LIKE 'a%'`, `name = 'resnet'`
//! (the registry's bare attributes), and `order_by` entries like `metrics.loss DESC`.
//!
//! Clauses are joined by `and` (MLflow has no `or`); a clause on a metric, param or tag the
//! record lacks is false, as in MLflow, except `IS NULL`.

use std::borrow::Cow;
use std::cmp::Ordering;

use super::MlflowError;

/// Which of a record's fields a clause reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scope {
    Metric,
    Param,
    Tag,
    Attribute,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Like,
    ILike,
    In,
    NotIn,
    IsNull,
    IsNotNull,
}

#[derive(Clone, Debug, PartialEq)]
enum Literal {
    /// A number and its text (a param compared with an unquoted number compares the text).
    Num(f64, String),
    Str(String),
    List(Vec<String>),
    Null,
}

/// One comparison of a filter.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Clause {
    scope: Scope,
    key: String,
    op: Op,
    value: Literal,
}

/// A field's value as a filter sees it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Field<'a> {
    Num(f64),
    Str(Cow<'a, str>),
}

/// What filters and orderings read from a record.
pub(crate) trait Subject {
    /// The field, `None` when the record lacks it.
    fn field(&self, scope: Scope, key: &str) -> Option<Field<'_>>;

    /// Whether a missing tag passes `!=`. The registry says yes: the client adds
    /// `tag.mlflow.prompt.is_prompt != 'true'` to every model search, meaning "not a prompt".
    fn missing_tag_is_unequal(&self) -> bool {
        false
    }
}

/// An `order_by` entry.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct OrderKey {
    pub(crate) scope: Scope,
    pub(crate) key: String,
    pub(crate) ascending: bool,
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Word(String),
    Str(String),
    Op(&'static str),
    Open,
    Close,
    Comma,
}

fn tokens(text: &str) -> Result<Vec<Token>, MlflowError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let quoted = |i: &mut usize, quote: char| -> Result<String, MlflowError> {
        let start = *i + 1;
        let end = chars[start..]
            .iter()
            .position(|&c| c == quote)
            .map(|p| start + p)
            .ok_or_else(|| MlflowError::invalid(format!("unterminated {quote} in filter {text:?}")))?;
        *i = end + 1;
        Ok(chars[start..end].iter().collect())
    };
    while i < chars.len() {
        let c = chars[i];
        match c {
            _ if c.is_whitespace() => i += 1,
            '(' => {
                out.push(Token::Open);
                i += 1;
            }
            ')' => {
                out.push(Token::Close);
                i += 1;
            }
            ',' => {
                out.push(Token::Comma);
                i += 1;
            }
            '\'' | '"' => out.push(Token::Str(quoted(&mut i, c)?)),
            '`' => out.push(Token::Word(quoted(&mut i, '`')?)),
            '=' | '!' | '<' | '>' => {
                let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
                let op = match two.as_str() {
                    "!=" | "<>" => "!=",
                    "<=" => "<=",
                    ">=" => ">=",
                    "==" => "=",
                    _ => match c {
                        '=' => "=",
                        '<' => "<",
                        '>' => ">",
                        _ => return Err(MlflowError::invalid(format!("unexpected '!' in filter {text:?}"))),
                    },
                };
                i += if op.len() == 2 || two == "==" || two == "<>" { 2 } else { 1 };
                out.push(Token::Op(op));
            }
            _ if c.is_alphanumeric() || matches!(c, '_' | '.' | '-' | '+') => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_alphanumeric() || matches!(chars[i], '_' | '.' | '-' | '+' | ':'))
                {
                    i += 1;
                }
                let mut word: String = chars[start..i].iter().collect();
                // `metrics."val loss"` or metrics.`val loss`: the key is quoted after the dot.
                if word.ends_with('.') && i < chars.len() && matches!(chars[i], '`' | '"') {
                    let quote = chars[i];
                    word.push_str(&quoted(&mut i, quote)?);
                }
                out.push(Token::Word(word));
            }
            _ => return Err(MlflowError::invalid(format!("unexpected {c:?} in filter {text:?}"))),
        }
    }
    Ok(out)
}

/// `metrics.loss` → (Metric, "loss"); a bare word is an attribute.
fn identifier(word: &str) -> Result<(Scope, String), MlflowError> {
    let Some((prefix, key)) = word.split_once('.') else {
        return Ok((Scope::Attribute, word.to_owned()));
    };
    let scope = match prefix.to_ascii_lowercase().as_str() {
        "metric" | "metrics" => Scope::Metric,
        "param" | "params" | "parameter" | "parameters" => Scope::Param,
        "tag" | "tags" => Scope::Tag,
        "attr" | "attribute" | "attributes" | "run" => Scope::Attribute,
        other => {
            return Err(MlflowError::invalid(format!(
                "invalid entity type {other:?} in {word:?}: use metrics., params., tags. or attributes."
            )));
        }
    };
    if key.is_empty() {
        return Err(MlflowError::invalid(format!("{word:?} names no key")));
    }
    Ok((scope, key.to_owned()))
}

fn keyword(token: Option<&Token>, word: &str) -> bool {
    matches!(token, Some(Token::Word(w)) if w.eq_ignore_ascii_case(word))
}

/// Parses a filter; an empty one has no clauses.
pub(crate) fn parse(filter: &str) -> Result<Vec<Clause>, MlflowError> {
    let tokens = tokens(filter)?;
    let bad = |what: &str| MlflowError::invalid(format!("invalid filter {filter:?}: {what}"));
    let mut clauses = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        if !clauses.is_empty() {
            if !keyword(tokens.get(i), "and") {
                return Err(bad("clauses are joined by AND (MLflow has no OR)"));
            }
            i += 1;
        }
        let Some(Token::Word(word)) = tokens.get(i) else {
            return Err(bad("expected a field such as metrics.loss"));
        };
        let (scope, key) = identifier(word)?;
        i += 1;
        let op = match tokens.get(i) {
            Some(Token::Op(op)) => match *op {
                "=" => Op::Eq,
                "!=" => Op::Ne,
                "<" => Op::Lt,
                "<=" => Op::Le,
                ">" => Op::Gt,
                _ => Op::Ge,
            },
            t if keyword(t, "like") => Op::Like,
            t if keyword(t, "ilike") => Op::ILike,
            t if keyword(t, "in") => Op::In,
            t if keyword(t, "not") && keyword(tokens.get(i + 1), "in") => {
                i += 1;
                Op::NotIn
            }
            t if keyword(t, "is") => {
                if keyword(tokens.get(i + 1), "not") {
                    i += 1;
                    Op::IsNotNull
                } else {
                    Op::IsNull
                }
            }
            _ => return Err(bad(&format!("expected a comparison after {word}"))),
        };
        i += 1;
        let value = match op {
            Op::IsNull | Op::IsNotNull => {
                if !keyword(tokens.get(i), "null") {
                    return Err(bad("IS [NOT] takes NULL"));
                }
                i += 1;
                Literal::Null
            }
            Op::In | Op::NotIn => {
                if tokens.get(i) != Some(&Token::Open) {
                    return Err(bad("IN takes a list: ('a', 'b')"));
                }
                i += 1;
                let mut items = Vec::new();
                loop {
                    match tokens.get(i) {
                        Some(Token::Str(s)) => items.push(s.clone()),
                        Some(Token::Word(w)) => items.push(w.clone()),
                        _ => return Err(bad("IN lists hold quoted strings")),
                    }
                    i += 1;
                    match tokens.get(i) {
                        Some(Token::Comma) => i += 1,
                        Some(Token::Close) => {
                            i += 1;
                            break;
                        }
                        _ => return Err(bad("unclosed IN list")),
                    }
                }
                Literal::List(items)
            }
            _ => {
                let value = match tokens.get(i) {
                    Some(Token::Str(s)) => Literal::Str(s.clone()),
                    Some(Token::Word(w)) => match w.parse::<f64>() {
                        Ok(n) => Literal::Num(n, w.clone()),
                        Err(_) => return Err(bad(&format!("{w} is neither a number nor a quoted string"))),
                    },
                    _ => return Err(bad(&format!("expected a value after {word}"))),
                };
                i += 1;
                value
            }
        };
        if scope == Scope::Metric && !matches!(value, Literal::Num(..) | Literal::Null) {
            return Err(bad(&format!("metrics.{key} is compared with a number")));
        }
        clauses.push(Clause { scope, key, op, value });
    }
    Ok(clauses)
}

/// Whether `subject` passes every clause.
pub(crate) fn matches(clauses: &[Clause], subject: &impl Subject) -> bool {
    clauses.iter().all(|clause| {
        let field = subject.field(clause.scope, &clause.key);
        match (clause.op, field) {
            (Op::IsNull, field) => field.is_none(),
            (Op::IsNotNull, field) => field.is_some(),
            (Op::Ne | Op::NotIn, None) => clause.scope == Scope::Tag && subject.missing_tag_is_unequal(),
            (_, None) => false,
            (op, Some(field)) => compare(op, &field, &clause.value),
        }
    })
}

fn compare(op: Op, field: &Field<'_>, value: &Literal) -> bool {
    let ordered = |ord: Option<Ordering>| match (op, ord) {
        (_, None) => false,
        (Op::Eq, Some(o)) => o == Ordering::Equal,
        (Op::Ne, Some(o)) => o != Ordering::Equal,
        (Op::Lt, Some(o)) => o == Ordering::Less,
        (Op::Le, Some(o)) => o != Ordering::Greater,
        (Op::Gt, Some(o)) => o == Ordering::Greater,
        (Op::Ge, Some(o)) => o != Ordering::Less,
        _ => false,
    };
    match (field, value) {
        (_, Literal::List(items)) => {
            let text = text_of(field);
            let found = items.contains(&text);
            if op == Op::In { found } else { op == Op::NotIn && !found }
        }
        (Field::Str(s), Literal::Str(pattern)) if matches!(op, Op::Like | Op::ILike) => {
            if op == Op::ILike {
                like(&s.to_lowercase(), &pattern.to_lowercase())
            } else {
                like(s, pattern)
            }
        }
        (Field::Num(n), Literal::Num(v, _)) => ordered(n.partial_cmp(v)),
        (Field::Num(n), Literal::Str(s)) => s.parse::<f64>().is_ok_and(|v| ordered(n.partial_cmp(&v))),
        (Field::Str(s), Literal::Str(v)) => ordered(Some(s.as_ref().cmp(v.as_str()))),
        (Field::Str(s), Literal::Num(_, text)) => ordered(Some(s.as_ref().cmp(text.as_str()))),
        _ => false,
    }
}

fn text_of(field: &Field<'_>) -> String {
    match field {
        Field::Num(n) => n.to_string(),
        Field::Str(s) => s.to_string(),
    }
}

/// SQL `LIKE`: `%` any run of characters, `_` one character.
fn like(text: &str, pattern: &str) -> bool {
    let (t, p): (Vec<char>, Vec<char>) = (text.chars().collect(), pattern.chars().collect());
    // Classic two-pointer wildcard match with backtracking to the last `%`.
    let (mut ti, mut pi, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '_' || p[pi] == t[ti]) {
            ti += 1;
            pi += 1;
        } else if pi < p.len() && p[pi] == '%' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '%')
}

/// Parses `order_by` entries: `metrics.loss`, `attributes.start_time DESC`.
pub(crate) fn parse_order(entries: &[String]) -> Result<Vec<OrderKey>, MlflowError> {
    entries
        .iter()
        .map(|entry| {
            let tokens = tokens(entry)?;
            let bad =
                || MlflowError::invalid(format!("invalid order_by {entry:?}: use e.g. 'metrics.loss DESC'"));
            let (word, direction) = match tokens.as_slice() {
                [Token::Word(w)] => (w, None),
                [Token::Word(w), Token::Word(d)] => (w, Some(d)),
                _ => return Err(bad()),
            };
            let ascending = match direction.map(|d| d.to_ascii_uppercase()) {
                None => true,
                Some(d) if d == "ASC" => true,
                Some(d) if d == "DESC" => false,
                Some(_) => return Err(bad()),
            };
            let (scope, key) = identifier(word)?;
            Ok(OrderKey { scope, key, ascending })
        })
        .collect()
}

/// Orders by `keys`; records lacking a key come last whichever the direction, as in MLflow.
pub(crate) fn order_cmp(keys: &[OrderKey], a: &impl Subject, b: &impl Subject) -> Ordering {
    for key in keys {
        let (x, y) = (a.field(key.scope, &key.key), b.field(key.scope, &key.key));
        let ord = match (x, y) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => return Ordering::Greater,
            (Some(_), None) => return Ordering::Less,
            (Some(x), Some(y)) => {
                let ord = match (&x, &y) {
                    (Field::Num(x), Field::Num(y)) => x.total_cmp(y),
                    (Field::Str(x), Field::Str(y)) => x.cmp(y),
                    (Field::Num(_), Field::Str(_)) => Ordering::Less,
                    (Field::Str(_), Field::Num(_)) => Ordering::Greater,
                };
                if key.ascending { ord } else { ord.reverse() }
            }
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    struct Row {
        metrics: BTreeMap<&'static str, f64>,
        params: BTreeMap<&'static str, &'static str>,
        status: &'static str,
    }

    impl Subject for Row {
        fn field(&self, scope: Scope, key: &str) -> Option<Field<'_>> {
            match scope {
                Scope::Metric => self.metrics.get(key).map(|v| Field::Num(*v)),
                Scope::Param => self.params.get(key).map(|v| Field::Str(Cow::Borrowed(*v))),
                Scope::Attribute if key == "status" => Some(Field::Str(Cow::Borrowed(self.status))),
                _ => None,
            }
        }
    }

    fn row(loss: f64, lr: &'static str, status: &'static str) -> Row {
        Row { metrics: [("loss", loss)].into(), params: [("lr", lr), ("opt", "adam")].into(), status }
    }

    #[test]
    fn the_issue_filter_selects_by_metric_and_param() {
        let clauses = parse("metrics.loss < 0.5 and params.lr = '0.01'").unwrap();
        assert!(matches(&clauses, &row(0.4, "0.01", "FINISHED")));
        assert!(!matches(&clauses, &row(0.6, "0.01", "FINISHED")));
        assert!(!matches(&clauses, &row(0.4, "0.1", "FINISHED")));
    }

    #[test]
    fn operators_quotes_and_keywords() {
        let r = row(0.25, "0.01", "FINISHED");
        for filter in [
            "metrics.loss<=0.25",
            "metric.`loss` >= 0.25 AND attributes.status = \"FINISHED\"",
            "params.opt LIKE 'ad%'",
            "params.opt ILIKE 'AD_M'",
            "attributes.status IN ('FINISHED', 'FAILED')",
            "attributes.status NOT IN ('RUNNING')",
            "params.lr != '0.1'",
            "tags.missing IS NULL",
            "params.lr IS NOT NULL",
            "",
        ] {
            assert!(matches(&parse(filter).unwrap(), &r), "{filter}");
        }
        for filter in [
            "metrics.missing > 0",
            "params.opt LIKE 'sgd%'",
            "metrics.loss > 0.25",
            "attributes.status = 'RUNNING'",
        ] {
            assert!(!matches(&parse(filter).unwrap(), &r), "{filter}");
        }
    }

    #[test]
    fn bad_filters_are_invalid_parameter_values() {
        for filter in [
            "metrics.loss < 'a'",
            "loss <",
            "metrics.loss < 1 or params.lr = '1'",
            "datasets.x = 'a'",
            "params.lr = 'unterminated",
            "params.lr IN 'a'",
            "metrics. = 1",
        ] {
            let err = parse(filter).unwrap_err();
            assert_eq!(err.code, "INVALID_PARAMETER_VALUE", "{filter}");
        }
    }

    #[test]
    fn ordering_puts_missing_values_last_both_ways() {
        let rows = [
            row(0.3, "a", "x"),
            Row { metrics: BTreeMap::new(), params: BTreeMap::new(), status: "x" },
            row(0.1, "b", "x"),
        ];
        for (entry, first) in [("metrics.loss", 0.1), ("metrics.loss DESC", 0.3)] {
            let keys = parse_order(&[entry.to_owned()]).unwrap();
            let mut sorted: Vec<&Row> = rows.iter().collect();
            sorted.sort_by(|a, b| order_cmp(&keys, *a, *b));
            assert_eq!(sorted[0].metrics["loss"], first);
            assert!(sorted[2].metrics.is_empty());
        }
        assert!(parse_order(&["metrics.loss sideways".to_owned()]).is_err());
    }

    #[test]
    fn like_matches_sql_wildcards() {
        assert!(like("resnet50", "res%"));
        assert!(like("resnet50", "%net%"));
        assert!(like("resnet50", "resnet5_"));
        assert!(!like("resnet50", "resnet5"));
        assert!(like("", "%"));
        assert!(!like("abc", "a%d"));
    }
}
