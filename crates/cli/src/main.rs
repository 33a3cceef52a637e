//! `aimdb`: the command line over the unified API.
//!
//! Reads `--config FILE` (else `$AIMDB_CONFIG`, `./aimdb.yaml`, SQLite at `./aimdb.db`), `.env`
//! and the environment, like every aimdb program. Prints readable text, or one JSON document
//! per command with `--json`. Exit codes a script can rely on: 0 success, 2 usage, 3 not
//! found, 4 already exists, 5 invalid input (or a dimension mismatch), 6 unavailable (retry),
//! 7 configuration, 1 anything else; errors go to stderr (as JSON with `--json`).

use std::path::PathBuf;
use std::process::ExitCode;

use aimdb::prelude::*;
use aimdb::{Collection, Entity, Error, MigrateOptions, NewDataset, TagTarget};
use clap::{Args, Parser, Subcommand};
use serde::Serialize;
use serde_json::Value;

// Why: glibc's malloc took a quarter of a server's CPU on MLflow's run searches (many
// small maps and strings per run); mimalloc halves that (`cargo xtask bench --mlflow`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "aimdb",
    version,
    about = "An AI model database: record models, runs and metrics; search by meaning."
)]
struct Cli {
    /// Configuration file (YAML, seed or composed form).
    #[arg(long, global = true, env = "AIMDB_CONFIG")]
    config: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// Log more on stderr: -v info, -vv debug, -vvv trace (default: warnings and errors;
    /// `RUST_LOG` overrides).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Models: create, get, list, search.
    #[command(subcommand)]
    Models(Models),
    /// Datasets: create, get, list, search.
    #[command(subcommand)]
    Datasets(Datasets),
    /// Training runs: create, get, update.
    #[command(subcommand)]
    Runs(Runs),
    /// Metrics: log, get.
    #[command(subcommand)]
    Metrics(Metrics),
    /// Tags (key/value text) of a model, version, run or experiment: get, set, delete.
    #[command(subcommand)]
    Tags(Tags),
    /// Counts of every entity and the vector index's state.
    Stats,
    /// Rebuild the vector index from the store (shows progress on a terminal).
    Reindex,
    /// Rebuild one collection's index in the type its size calls for.
    Optimize {
        /// models, datasets or predictions.
        #[arg(value_parser = parse_collection)]
        collection: Collection,
    },
    /// Copy every record of another database into this one (ids kept), check the copy
    /// record by record, and rebuild this database's vector index.
    Migrate {
        /// The database to copy: a URL (sqlite://, postgres://, mysql://, redis://,
        /// mongodb://) or a configuration file.
        #[arg(long)]
        from: String,
        /// The database to fill, likewise; default: the one --config names.
        #[arg(long)]
        to: Option<String>,
        /// Allow a target that already holds records: records whose ids are there are
        /// kept, the rest copied (how an interrupted migration resumes).
        #[arg(long)]
        force: bool,
    },
    /// Serve this database over HTTP (the REST API under /api/v1) until Ctrl-C or SIGTERM.
    /// Tokens come from the configuration's `server.tokens`, AIMDB_SERVER_TOKENS (read-write)
    /// and AIMDB_SERVER_READ_TOKENS (read-only), comma-separated; without any, only a
    /// loopback address is served.
    Serve(Serve),
}

#[derive(Args)]
struct Serve {
    /// Address to listen on (port 0: any free port, printed at start); default: the
    /// configuration's `server.bind`, else 127.0.0.1:8080.
    #[arg(long, env = "AIMDB_BIND")]
    bind: Option<std::net::SocketAddr>,
    /// Serve a non-loopback address without tokens (behind a proxy that authenticates).
    #[arg(long)]
    insecure_no_auth: bool,
    /// Largest request body in bytes, 413 beyond (default 64 MiB).
    #[arg(long)]
    max_body_bytes: Option<usize>,
    /// Most records in one batch of metrics, predictions or imported records, 413 beyond
    /// (default 100,000).
    #[arg(long)]
    max_batch: Option<usize>,
}

#[derive(Args)]
struct Listing {
    /// Only records with an id above this.
    #[arg(long)]
    after: Option<i64>,
    /// At most this many records.
    #[arg(long)]
    limit: Option<u32>,
}

impl Listing {
    fn page(&self) -> Page {
        Page { after: self.after, limit: self.limit }
    }
}

#[derive(Subcommand)]
enum Models {
    /// Register a model.
    Create {
        name: String,
        #[arg(long)]
        description: Option<String>,
        #[arg(long)]
        architecture: Option<String>,
        #[arg(long)]
        framework: Option<String>,
        #[arg(long)]
        task_type: Option<String>,
    },
    /// One model, by id or `--name`.
    Get {
        #[arg(required_unless_present = "name")]
        id: Option<i64>,
        #[arg(long, conflicts_with = "id")]
        name: Option<String>,
    },
    /// Models in id order.
    List(Listing),
    /// Models most similar in meaning to QUERY.
    Search {
        query: String,
        #[arg(short = 'n', long, default_value_t = 5)]
        n_results: usize,
        #[arg(long)]
        framework: Option<String>,
        #[arg(long)]
        architecture: Option<String>,
        #[arg(long)]
        task_type: Option<String>,
    },
}

#[derive(Subcommand)]
enum Datasets {
    /// Register a dataset.
    Create {
        name: String,
        #[arg(long)]
        description: Option<String>,
        #[arg(long)]
        format: Option<String>,
        #[arg(long)]
        source_path: Option<String>,
        #[arg(long)]
        num_samples: Option<i64>,
    },
    /// One dataset, by id or `--name`.
    Get {
        #[arg(required_unless_present = "name")]
        id: Option<i64>,
        #[arg(long, conflicts_with = "id")]
        name: Option<String>,
    },
    /// Datasets in id order.
    List(Listing),
    /// Datasets most similar in meaning to QUERY.
    Search {
        query: String,
        #[arg(short = 'n', long, default_value_t = 5)]
        n_results: usize,
        #[arg(long)]
        format: Option<String>,
    },
}

#[derive(Subcommand)]
enum Runs {
    /// Start a training run, of a model version or of none yet (link one later with
    /// `runs update --version`).
    Create {
        /// The model version trained.
        #[arg(long)]
        version: Option<i64>,
        #[arg(long)]
        dataset: Option<i64>,
        #[arg(long)]
        name: Option<String>,
    },
    /// One run.
    Get { id: i64 },
    /// Change only the given fields (`--completed` sets status and completion time).
    Update {
        id: i64,
        /// Link the run to this model version.
        #[arg(long)]
        version: Option<i64>,
        #[arg(long)]
        completed: bool,
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        final_loss: Option<f64>,
        #[arg(long)]
        best_metric_value: Option<f64>,
        #[arg(long)]
        duration_seconds: Option<f64>,
    },
}

#[derive(Subcommand)]
enum Tags {
    /// A record's tags.
    Get {
        /// model, version, run or experiment.
        #[arg(value_parser = parse_tag_kind)]
        kind: Entity,
        id: i64,
    },
    /// Add tags or replace their values (`KEY=VALUE` ...); other tags stay.
    Set {
        /// model, version, run or experiment.
        #[arg(value_parser = parse_tag_kind)]
        kind: Entity,
        id: i64,
        /// `KEY=VALUE`, split at the first `=`.
        #[arg(required = true, value_parser = parse_tag)]
        tags: Vec<(String, String)>,
    },
    /// Remove one tag.
    Delete {
        /// model, version, run or experiment.
        #[arg(value_parser = parse_tag_kind)]
        kind: Entity,
        id: i64,
        key: String,
    },
}

#[derive(Subcommand)]
enum Metrics {
    /// Log one metric value.
    Log {
        run: i64,
        name: String,
        value: f64,
        #[arg(long)]
        epoch: Option<i64>,
        #[arg(long)]
        step: Option<i64>,
        #[arg(long)]
        split: Option<String>,
    },
    /// A run's metrics in logging order.
    Get {
        run: i64,
        #[arg(long)]
        name: Option<String>,
    },
}

fn parse_collection(s: &str) -> Result<Collection, String> {
    Collection::ALL
        .into_iter()
        .find(|c| c.as_str() == s)
        .ok_or_else(|| format!("`{s}`: expected models, datasets or predictions"))
}

fn parse_tag_kind(s: &str) -> Result<Entity, String> {
    Ok(match s {
        "model" => Entity::Model,
        "version" => Entity::ModelVersion,
        "run" => Entity::TrainingRun,
        "experiment" => Entity::Experiment,
        _ => return Err(format!("`{s}`: expected model, version, run or experiment")),
    })
}

fn parse_tag(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("`{s}`: expected KEY=VALUE"))
}

fn tag_target(kind: Entity, id: i64) -> Result<TagTarget, Error> {
    TagTarget::of(kind, id).ok_or_else(|| Error::invalid("kind", format!("{kind} records take no tags")))
}

/// What a command prints: JSON, or its text form.
struct Output {
    json: Value,
    text: String,
}

fn out<T: Serialize>(value: &T, text: impl Into<String>) -> Result<Output, Error> {
    let json = serde_json::to_value(value).map_err(|e| Error::backend("encode output", e))?;
    Ok(Output { json, text: text.into() })
}

fn lines<T>(items: &[T], line: impl Fn(&T) -> String) -> String {
    items.iter().map(line).collect::<Vec<_>>().join("\n")
}

async fn run(cli: Cli) -> Result<Output, Error> {
    if let Command::Migrate { from, to, force } = cli.command {
        let target = match to {
            Some(to) => aimdb::config::from_url_or_file(&to)?,
            None => aimdb::config::load(cli.config.as_deref())?,
        };
        return migrate(&from, target, force).await;
    }
    let config = aimdb::config::load(cli.config.as_deref())?;
    let db = create_ai_database(config).await?;
    if let Command::Serve(options) = cli.command {
        return serve(db, options).await;
    }
    let result = dispatch(&db, cli.command).await;
    db.close().await?;
    result
}

async fn migrate(from: &str, target: AimdbConfig, force: bool) -> Result<Output, Error> {
    let source = aimdb::open_metadata_store(&aimdb::config::from_url_or_file(from)?).await?;
    let db = create_ai_database(target).await?;
    let report =
        db.migrate_from(source.as_ref(), MigrateOptions::default().with_allow_non_empty(force)).await;
    source.close().await?;
    db.close().await?;
    let report = report?;
    let w = &report.written;
    let mut text = format!(
        "copied {} models, {} versions, {} datasets, {} runs, {} hyperparameters, {} metrics, \
         {} experiments, {} experiment runs, {} predictions; {} records checked",
        w.models,
        w.model_versions,
        w.datasets,
        w.training_runs,
        w.hyperparameters,
        w.metrics,
        w.experiments,
        w.experiment_runs,
        w.predictions,
        report.verified
    );
    if let Some(index) = &report.index {
        text.push_str(&format!(
            "; reindexed {} models, {} datasets, {} predictions",
            index.models, index.datasets, index.predictions
        ));
    }
    out(&report, text)
}

async fn dispatch(db: &AiDatabase, command: Command) -> Result<Output, Error> {
    let model_line =
        |m: &aimdb::Model| format!("{}\t{}\t{}", m.id, m.name, m.framework.clone().unwrap_or_default());
    let dataset_line =
        |d: &aimdb::Dataset| format!("{}\t{}\t{}", d.id, d.name, d.format.clone().unwrap_or_default());
    match command {
        Command::Models(Models::Create { name, description, architecture, framework, task_type }) => {
            let mut new = NewModel::new(name);
            new.description = description;
            new.architecture = architecture;
            new.framework = framework;
            new.task_type = task_type;
            let model = db.create_model(new).await?;
            out(&model, format!("created model {} ({})", model.id, model.name))
        }
        Command::Models(Models::Get { id, name }) => {
            let model = match (id, name) {
                (Some(id), _) => db.get_model(id.into()).await?,
                (None, Some(name)) => db.get_model_by_name(&name).await?,
                (None, None) => return Err(Error::invalid("id", "give an id or --name")),
            };
            out(&model, model_line(&model))
        }
        Command::Models(Models::List(listing)) => {
            let models = db.list_models(listing.page()).await?;
            out(&models, lines(&models, model_line))
        }
        Command::Models(Models::Search { query, n_results, framework, architecture, task_type }) => {
            let filter = ModelFilter { framework, architecture, task_type };
            let hits = db.search_similar_models(&query, n_results, &filter).await?;
            out(&hits, lines(&hits, |h| format!("{:.3}\t{}", h.similarity_score, model_line(&h.item))))
        }
        Command::Datasets(Datasets::Create { name, description, format, source_path, num_samples }) => {
            let mut new = NewDataset::new(name);
            new.description = description;
            new.format = format;
            new.source_path = source_path;
            new.num_samples = num_samples;
            let dataset = db.create_dataset(new).await?;
            out(&dataset, format!("created dataset {} ({})", dataset.id, dataset.name))
        }
        Command::Datasets(Datasets::Get { id, name }) => {
            let dataset = match (id, name) {
                (Some(id), _) => db.get_dataset(id.into()).await?,
                (None, Some(name)) => db.get_dataset_by_name(&name).await?,
                (None, None) => return Err(Error::invalid("id", "give an id or --name")),
            };
            out(&dataset, dataset_line(&dataset))
        }
        Command::Datasets(Datasets::List(listing)) => {
            let datasets = db.list_datasets(listing.page()).await?;
            out(&datasets, lines(&datasets, dataset_line))
        }
        Command::Datasets(Datasets::Search { query, n_results, format }) => {
            let hits = db.search_similar_datasets(&query, n_results, &DatasetFilter { format }).await?;
            out(&hits, lines(&hits, |h| format!("{:.3}\t{}", h.similarity_score, dataset_line(&h.item))))
        }
        Command::Runs(Runs::Create { version, dataset, name }) => {
            let mut new = NewTrainingRun::without_version();
            new.model_version_id = version.map(Into::into);
            new.dataset_id = dataset.map(Into::into);
            new.run_name = name;
            let run = db.create_training_run(new).await?;
            let line = match run.model_version_id {
                Some(version) => format!("created run {} of version {version}", run.id),
                None => format!("created run {} (no model version yet)", run.id),
            };
            out(&run, line)
        }
        Command::Runs(Runs::Get { id }) => {
            let run = db.get_training_run(id.into()).await?;
            out(&run, format!("{}\t{}\tfinal_loss={:?}", run.id, run.status, run.final_loss))
        }
        Command::Runs(Runs::Update {
            id,
            version,
            completed,
            status,
            final_loss,
            best_metric_value,
            duration_seconds,
        }) => {
            let mut update =
                if completed { TrainingRunUpdate::completed() } else { TrainingRunUpdate::new() };
            if let Some(status) = status {
                update.status = Some(status);
            }
            update.model_version_id = version.map(Into::into);
            update.final_loss = final_loss;
            update.best_metric_value = best_metric_value;
            update.duration_seconds = duration_seconds;
            let run = db.update_training_run(id.into(), update).await?;
            out(&run, format!("{}\t{}\tfinal_loss={:?}", run.id, run.status, run.final_loss))
        }
        Command::Metrics(Metrics::Log { run, name, value, epoch, step, split }) => {
            let mut metric = NewMetric::new(name, value);
            metric.epoch = epoch;
            metric.step = step;
            if let Some(split) = split {
                metric.split = Some(split);
            }
            let metric = db.log_metric(run.into(), metric).await?;
            out(&metric, format!("logged {}={} for run {}", metric.metric_name, metric.metric_value, run))
        }
        Command::Tags(Tags::Get { kind, id }) => {
            let tags = db.get_tags(tag_target(kind, id)?).await?;
            let text = tags.iter().map(|(k, v)| format!("{k}\t{v}")).collect::<Vec<_>>().join("\n");
            out(&tags, text)
        }
        Command::Tags(Tags::Set { kind, id, tags }) => {
            let target = tag_target(kind, id)?;
            let count = tags.len();
            db.set_tags(target, tags.into_iter().collect()).await?;
            out(&db.get_tags(target).await?, format!("set {count} tag(s) on {target}"))
        }
        Command::Tags(Tags::Delete { kind, id, key }) => {
            let deleted = db.delete_tag(tag_target(kind, id)?, &key).await?;
            let text = if deleted { format!("deleted tag {key}") } else { format!("no tag {key}") };
            out(&serde_json::json!({ "deleted": deleted }), text)
        }
        Command::Metrics(Metrics::Get { run, name }) => {
            let metrics = db.get_metrics(run.into(), name.as_deref()).await?;
            let text = lines(&metrics, |m| {
                format!(
                    "{}\t{}\tepoch={:?}\tstep={:?}\t{}",
                    m.metric_name, m.metric_value, m.epoch, m.step, m.split
                )
            });
            out(&metrics, text)
        }
        Command::Stats => {
            let stats = db.get_statistics().await?;
            let text =
                serde_json::to_string_pretty(&stats).map_err(|e| Error::backend("encode output", e))?;
            out(&stats, text)
        }
        Command::Reindex => {
            let report = db.reindex().await?;
            out(
                &report,
                format!(
                    "reindexed {} models, {} datasets, {} predictions",
                    report.models, report.datasets, report.predictions
                ),
            )
        }
        Command::Optimize { collection } => {
            let info = db.optimize_index(collection).await?;
            out(&info, format!("{}: {} over {} vectors", collection, info.index_kind, info.vectors))
        }
        Command::Migrate { .. } | Command::Serve(_) => {
            unreachable!("run() handles migrate and serve before dispatching")
        }
    }
}

/// `aimdb serve`: binds, says where on stderr, serves until a signal, then flushes and closes.
async fn serve(db: AiDatabase, options: Serve) -> Result<Output, Error> {
    // The file's `server:` section, then the environment and flags over it.
    let mut config = aimdb_server::ServerConfig::from_settings(&db.config().server)?.with_env_tokens();
    if let Some(bind) = options.bind {
        config = config.with_bind(bind);
    }
    if options.insecure_no_auth {
        config = config.with_insecure_no_auth(true);
    }
    if let Some(bytes) = options.max_body_bytes {
        config = config.with_max_body_bytes(bytes);
    }
    if let Some(records) = options.max_batch {
        config = config.with_max_batch(records);
    }
    let tokens = config.tokens.len();
    let info = db.store().info();
    if matches!(db.config().vectors, Some(aimdb::config::VectorConfig::Faiss(_))) {
        eprintln!(
            "aimdb: the FAISS index is embedded: this server is the single writer of its directory; \
             run one server per directory (several servers need a server index such as Chroma)"
        );
    }
    let server = aimdb_server::Server::bind(db, config).await?;
    // Tests and scripts read the address from this line (port 0 picks a free one).
    eprintln!(
        "aimdb: serving {} ({}) on http://{} with {tokens} token(s)",
        info.backend,
        info.location,
        server.local_addr()
    );
    server.run(aimdb_server::shutdown_signal()).await?;
    Ok(Output { json: Value::Null, text: String::new() })
}

/// The documented exit code and a stable name for each error kind.
fn classify(e: &Error) -> (u8, &'static str) {
    match e {
        Error::NotFound { .. } => (3, "not_found"),
        Error::AlreadyExists { .. } => (4, "already_exists"),
        Error::InvalidInput { .. } => (5, "invalid_input"),
        Error::DimensionMismatch { .. } => (5, "dimension_mismatch"),
        Error::Unavailable { .. } => (6, "unavailable"),
        Error::Config { .. } => (7, "config"),
        _ => (1, "backend"),
    }
}

/// Warnings (an index repaired at open, a vector that could not be written) reach the user
/// on stderr by default.
fn init_logging(verbose: u8, serving: bool) {
    let level = match verbose {
        // A server logs each request.
        0 if serving => "info",
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .without_time()
        .try_init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose, matches!(cli.command, Command::Serve(_)));
    let json = cli.json;
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("aimdb: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(output) => {
            if json {
                println!("{}", output.json);
            } else if !output.text.is_empty() {
                println!("{}", output.text);
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            let (code, kind) = classify(&e);
            if json {
                eprintln!("{}", serde_json::json!({ "error": kind, "message": e.to_string() }));
            } else {
                eprintln!("aimdb: {e}");
            }
            ExitCode::from(code)
        }
    }
}
