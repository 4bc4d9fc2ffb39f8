"""Where a study lives: an optuna RDB storage (SQLite file by default, PostgreSQL for many machines).

A ganhub study NAME is one optuna study NAME holding the spec in its user attrs (no trials), plus
one optuna study per variant, ``NAME/<loss>-<penalty>-<d_norm>``, holding that variant's trials.
Per-variant studies give each variant its own sampler state, as the paper ran one search per
loss / penalty / normalization combination; optuna-dashboard lists them side by side.
"""
import logging
import os
import warnings
from pathlib import Path

from ganhub.errors import ConfigError, StudyError

DEFAULT_STORAGE = "ganhub-studies.db"
SPEC_ATTR, VARIANTS_ATTR, WORKDIR_ATTR = "ganhub_spec", "ganhub_variants", "ganhub_workdir"


def storage_url(storage=None):
    """A database URL: a URL as given, a file path (or nothing: ./ganhub-studies.db) as SQLite.
    Checked without importing optuna or TensorFlow."""
    storage = storage or os.environ.get("GANHUB_STUDY_STORAGE") or DEFAULT_STORAGE
    storage = str(storage)
    if "://" in storage:
        scheme = storage.split("://", 1)[0].split("+", 1)[0]
        if scheme not in ("sqlite", "postgresql", "postgres", "mysql"):
            raise ConfigError(f"--storage {storage}: use a file path (SQLite), sqlite:///PATH or "
                              f"postgresql://USER@HOST:PORT/DB")
        if scheme == "postgres":  # SQLAlchemy only knows the long name
            storage = "postgresql" + storage[len("postgres"):]
        return storage
    path = Path(storage).expanduser().resolve()
    if path.is_dir():
        raise ConfigError(f"--storage {storage} is a folder; give a database file such as "
                          f"{Path(storage) / DEFAULT_STORAGE}")
    if not path.parent.is_dir():
        raise ConfigError(f"--storage {storage}: folder {path.parent} does not exist")
    return f"sqlite:///{path}"


def default_workdir(url, name):
    """Trial folders and modules: next to a SQLite file, else ./ganhub-study/NAME."""
    if url.startswith("sqlite:///"):
        return Path(url[len("sqlite:///"):]).parent / "ganhub-study" / name
    return Path.cwd() / "ganhub-study" / name


class _InterruptWithoutTraceback(logging.Filter):
    """Ctrl-C or SIGTERM of a worker is no error: optuna's "Trial N failed ... KeyboardInterrupt"
    line stays, its traceback goes (a trial that raised keeps its traceback, for debugging)."""

    def filter(self, record):
        if record.exc_info and isinstance(record.exc_info[1], KeyboardInterrupt):
            record.exc_info = record.exc_text = None
        return True


def _quiet_optuna():
    import optuna
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    trials_log = logging.getLogger("optuna.study._optimize")   # where optuna logs failed trials
    if not any(isinstance(f, _InterruptWithoutTraceback) for f in trials_log.filters):
        trials_log.addFilter(_InterruptWithoutTraceback())
    return optuna


def open_storage(url, spec=None):
    """optuna RDBStorage; with a spec, trials heartbeat every ``heartbeat_seconds`` and a trial
    silent for ``grace_seconds`` is failed and re-queued (same params and user attrs) for another
    worker, at most ``max_retry`` times."""
    optuna = _quiet_optuna()
    engine_kwargs = {"pool_pre_ping": True}
    if url.startswith("sqlite"):
        # several worker processes share one file: wait for its lock instead of failing
        engine_kwargs = {"connect_args": {"timeout": 120}}
    kwargs = {}
    if spec is not None:
        retry = getattr(optuna.storages, "RetryHeartbeatStaleTrialCallback", None)
        key = "heartbeat_stale_trial_callback"
        if retry is None:  # optuna < 4.9
            retry, key = optuna.storages.RetryFailedTrialCallback, "failed_trial_callback"
        kwargs = {"heartbeat_interval": spec["heartbeat_seconds"],
                  "grace_period": spec["grace_seconds"], key: retry(max_retry=spec["max_retry"])}
    try:
        return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs, **kwargs)
    except ModuleNotFoundError as exc:  # the database driver
        raise StudyError(f"cannot open study storage {_redact(url)}: its driver {exc.name} is not "
                         f"installed (pip install 'ganhub[study]' installs psycopg for "
                         f"PostgreSQL)") from None
    except Exception as exc:  # server down, bad credentials, not a database: one line
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise StudyError(f"cannot open study storage {_redact(url)}: {first}") from None


def _redact(url):
    """The URL without its password, for messages."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        if ":" in creds:
            return f"{scheme}://{creds.split(':', 1)[0]}:***@{host}"
    return url


def variant_study_name(name, label):
    return f"{name}/{label}"


def load_spec(storage, name):
    """(spec, variant labels, workdir) stored by `create`; StudyError when there is no such study."""
    optuna = _quiet_optuna()
    try:
        study = optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        names = [s.study_name for s in optuna.get_all_study_summaries(storage, include_best_trial=False)
                 if "/" not in s.study_name]
        hint = f" Studies here: {', '.join(names)}." if names else ""
        raise StudyError(f"no study named {name!r} in {_redact(storage.url)}.{hint} Create one "
                         f"with `ganhub study create {name} SPEC.json`") from None
    attrs = study.user_attrs
    if SPEC_ATTR not in attrs:
        raise StudyError(f"optuna study {name!r} was not created by `ganhub study create`")
    return attrs[SPEC_ATTR], attrs[VARIANTS_ATTR], Path(attrs[WORKDIR_ATTR])


def variant_studies(storage, name, labels, sampler_factory=None):
    """{label: optuna Study} of every variant."""
    optuna = _quiet_optuna()
    out = {}
    for label in labels:
        sampler = sampler_factory(label) if sampler_factory else None
        out[label] = optuna.load_study(study_name=variant_study_name(name, label), storage=storage,
                                       sampler=sampler)
    return out
