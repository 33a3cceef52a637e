//! aimdb errors as Python exceptions: the classes live in `aimdb/errors.py` (one per error
//! kind, all subclasses of `AimdbError`); this module picks the class and its attributes.

use aimdb::Error;
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// The Python exception for an aimdb error, with the error's fields as attributes
/// (`InvalidInput.field`, `NotFound.entity`, ...) and its sources in the message.
pub(crate) fn to_py(error: Error) -> PyErr {
    Python::attach(|py| build(py, &error).unwrap_or_else(|failed| failed))
}

/// An exception of class `class` (a name in `aimdb.errors`) without further attributes.
pub(crate) fn raise(class: &str, message: impl Into<String>) -> PyErr {
    let message = message.into();
    Python::attach(|py| instantiate(py, class, &message, &PyDict::new(py)).unwrap_or_else(|failed| failed))
}

/// `InvalidInput` naming `field`, for input rejected before it reaches the engine.
pub(crate) fn invalid(field: &str, reason: impl Into<String>) -> PyErr {
    to_py(Error::invalid(field, reason))
}

fn build(py: Python<'_>, error: &Error) -> PyResult<PyErr> {
    let details = PyDict::new(py);
    let class = match error {
        Error::NotFound { entity, key } => {
            details.set_item("entity", entity.as_str())?;
            details.set_item("key", key)?;
            "NotFound"
        }
        Error::AlreadyExists { entity, key } => {
            details.set_item("entity", entity.as_str())?;
            details.set_item("key", key)?;
            "AlreadyExists"
        }
        Error::InvalidInput { field, reason } => {
            details.set_item("field", field)?;
            details.set_item("reason", reason)?;
            "InvalidInput"
        }
        Error::DimensionMismatch { context, expected, actual } => {
            details.set_item("context", context)?;
            details.set_item("expected", expected)?;
            details.set_item("actual", actual)?;
            "DimensionMismatch"
        }
        Error::Unavailable { .. } => "Unavailable",
        Error::Config { .. } => "ConfigError",
        Error::Backend { .. } => "BackendError",
        _ => "AimdbError",
    };
    instantiate(py, class, &message(error), &details)
}

/// The error's message followed by each source's, as `Display` alone drops them.
fn message(error: &Error) -> String {
    let mut message = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

fn instantiate(py: Python<'_>, class: &str, message: &str, details: &Bound<'_, PyDict>) -> PyResult<PyErr> {
    let class = py.import("aimdb.errors")?.getattr(class)?;
    Ok(PyErr::from_value(class.call((message,), Some(details))?))
}
