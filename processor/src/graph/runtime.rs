//! ONNX Runtime, in process, through `ort` with `load-dynamic`: the shared library is found at run time (the
//! `onnxruntime` PyPI wheel that `scripts/setup` installs), never downloaded. `ort` panics at first use when the
//! library is missing, so spanguard looks for it first and fails with one clear error instead.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ort::environment::Environment;
use ort::session::Session;
use ort::value::{TensorRef, ValueType};

use super::onnx::{INPUT, OUTPUT};

/// Errors of the ONNX Runtime path.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// No shared library found.
    #[error("ONNX Runtime shared library not found ({tried}): set ORT_DYLIB_PATH to libonnxruntime.so, or run scripts/setup (installs the onnxruntime wheel into .venv)")]
    NotFound { tried: String },
    /// The library would not load.
    #[error("cannot load ONNX Runtime from {path}: {message}")]
    Load { path: String, message: String },
    /// The first attempt to load ONNX Runtime failed (the reason, as it was said then).
    #[error("{0}")]
    Unavailable(String),
    /// The model file does not fit the contract.
    #[error("{path}: {message}")]
    Contract { path: String, message: String },
    /// ONNX Runtime failed.
    #[error("ONNX Runtime: {0}")]
    Ort(String),
}

fn venv_libraries(root: &Path) -> Option<PathBuf> {
    let lib = root.join(".venv/lib");
    let py = std::fs::read_dir(&lib)
        .ok()?
        .flatten()
        .find(|d| d.file_name().to_string_lossy().starts_with("python3"))?;
    let capi = py.path().join("site-packages/onnxruntime/capi");
    let mut found: Vec<PathBuf> = std::fs::read_dir(capi)
        .ok()?
        .flatten()
        .map(|d| d.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("libonnxruntime.so"))
        })
        .collect();
    found.sort();
    found.pop()
}

/// Where the shared library is: `ORT_DYLIB_PATH` when set, else a `.venv` in the working directory or above the
/// executable (as `scripts/setup` makes it).
pub fn library_path() -> Result<PathBuf, RuntimeError> {
    let mut tried = Vec::new();
    if let Ok(p) = std::env::var("ORT_DYLIB_PATH") {
        // An explicit setting is the user's intent: a wrong one is an error, not a hint to look elsewhere.
        let p = PathBuf::from(p);
        if p.is_file() {
            return Ok(p);
        }
        return Err(RuntimeError::NotFound {
            tried: format!("ORT_DYLIB_PATH={} is not a file", p.display()),
        });
    }
    let mut roots: Vec<PathBuf> = Vec::new();
    if let Ok(cwd) = std::env::current_dir() {
        roots.extend(cwd.ancestors().take(4).map(Path::to_path_buf));
    }
    if let Ok(exe) = std::env::current_exe() {
        roots.extend(exe.ancestors().skip(1).take(5).map(Path::to_path_buf));
    }
    for r in roots {
        if let Some(p) = venv_libraries(&r) {
            return Ok(p);
        }
        tried.push(format!("{}/.venv", r.display()));
    }
    let mut once = std::collections::HashSet::new();
    tried.retain(|t| once.insert(t.clone()));
    Err(RuntimeError::NotFound {
        tried: tried.join(", "),
    })
}

static ENVIRONMENT: OnceLock<Result<Environment, String>> = OnceLock::new();

/// The process-wide ONNX Runtime environment, loaded on first use.
pub fn environment() -> Result<&'static Environment, RuntimeError> {
    let env = ENVIRONMENT.get_or_init(|| {
        let path = library_path().map_err(|e| e.to_string())?;
        let shown = path.display().to_string();
        let load = |e: &dyn std::fmt::Display| {
            RuntimeError::Load {
                path: shown.clone(),
                message: e.to_string(),
            }
            .to_string()
        };
        ort::init_from(&path)
            .map_err(|e| load(&e))?
            .with_name("spanguard")
            .build()
            .map_err(|e| load(&e))
    });
    env.as_ref().map_err(|m| RuntimeError::Unavailable(m.clone()))
}

/// One inference session of an autoencoder with the spanguard contract. `run` takes `&mut self`: one per thread.
pub struct Reconstructor {
    session: Session,
    edges: usize,
}

fn ort_err(e: impl std::fmt::Display) -> RuntimeError {
    RuntimeError::Ort(e.to_string())
}

impl Reconstructor {
    /// Loads `path` and checks it maps float32 `edges [N, E]` to `reconstruction [N, E]`.
    pub fn load(path: &Path, edges: usize) -> Result<Self, RuntimeError> {
        let env = environment()?;
        let shown = path.display().to_string();
        let session = Session::builder(env)
            .map_err(ort_err)?
            .with_intra_threads(1)
            .map_err(|e| ort_err(e.to_string()))?
            .commit_from_file(path)
            .map_err(|e| RuntimeError::Contract {
                path: shown.clone(),
                message: format!("not a loadable ONNX model: {e}"),
            })?;
        let check = |outlets: &[ort::value::Outlet], name: &str, what: &str| -> Result<(), RuntimeError> {
            let o = outlets
                .iter()
                .find(|o| o.name() == name)
                .ok_or_else(|| RuntimeError::Contract {
                    path: shown.clone(),
                    message: format!(
                        "has no {what} named {name:?} (found {:?})",
                        outlets.iter().map(|o| o.name()).collect::<Vec<_>>()
                    ),
                })?;
            match o.dtype() {
                ValueType::Tensor { ty, shape, .. }
                    if *ty == ort::value::TensorElementType::Float32
                        && shape.len() == 2
                        && (shape[1] == edges as i64 || shape[1] < 0) =>
                {
                    Ok(())
                }
                other => Err(RuntimeError::Contract {
                    path: shown.clone(),
                    message: format!("{what} {name:?} is {other:?}; expected float32 [N, {edges}]"),
                }),
            }
        };
        check(session.inputs(), INPUT, "input")?;
        check(session.outputs(), OUTPUT, "output")?;
        Ok(Self { session, edges })
    }

    /// Reconstructs `n` rows of width E (row-major).
    pub fn run(&mut self, rows: &[f32], n: usize) -> Result<Vec<f32>, RuntimeError> {
        if rows.len() != n * self.edges {
            return Err(RuntimeError::Ort(format!(
                "expected {} values, got {}",
                n * self.edges,
                rows.len()
            )));
        }
        let input = TensorRef::from_array_view(([n, self.edges], rows)).map_err(ort_err)?;
        let outputs = self.session.run(ort::inputs![INPUT => input]).map_err(ort_err)?;
        let (shape, data) = outputs[OUTPUT].try_extract_tensor::<f32>().map_err(ort_err)?;
        if shape.len() != 2 || shape[0] as usize != n || shape[1] as usize != self.edges {
            return Err(RuntimeError::Ort(format!(
                "output shape {shape:?}, expected [{n}, {}]",
                self.edges
            )));
        }
        Ok(data.to_vec())
    }
}
