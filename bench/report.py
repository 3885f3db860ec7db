"""Turn one run's figures into bench/results.json and the markdown table."""

import json
from dataclasses import dataclass, field
from pathlib import Path

SIZE_KEYS = {2_000_000: "2MB", 20_000_000: "20MB", 200_000_000: "200MB"}


@dataclass
class Figures:
    """Everything one run measured: the issue's figures and their baselines."""

    cpu_model: str
    cores: int
    client: str = ""
    baseline_rps: float = 0.0
    page_rps: float = 0.0
    page_p50_ms: float = 0.0
    page_p99_ms: float = 0.0
    page_path: str = ""
    page_cpu_ms: float = 0.0
    submit_per_s: float = 0.0
    submit_p50_ms: float = 0.0
    submit_p99_ms: float = 0.0
    submits: int = 0
    submit_cpu_ms: float = 0.0
    sqlite_commits_per_s: float = 0.0
    disk_write_mb_s: float = 0.0
    upload_mb_s: dict[str, float] = field(default_factory=dict)
    upload_peak_rss_mb: dict[str, float] = field(default_factory=dict)
    upload_idle_rss_mb: dict[str, float] = field(default_factory=dict)
    first_upload_ms: float = 0.0
    small_upload_ms: float = 0.0
    ingest_per_s: float = 0.0
    ingest_count: int = 0
    idle_cpu_percent: float = 0.0
    baseline_idle_cpu_percent: float = 0.0
    idle_seconds: float = 0.0
    loaded_startup_s: float = 0.0
    startup_s: float = 0.0
    restart_s: float = 0.0
    baseline_startup_s: float = 0.0
    idle_rss_mb: float = 0.0
    baseline_idle_rss_mb: float = 0.0


def results_json(figures: Figures) -> dict:
    """Return the flat object of the issue, with its keys and nothing else."""
    return {
        "baseline_rps": round(figures.baseline_rps),
        "page_rps": round(figures.page_rps),
        "page_p50_ms": round(figures.page_p50_ms, 2),
        "page_p99_ms": round(figures.page_p99_ms, 2),
        "submit_per_s": round(figures.submit_per_s),
        "sqlite_commits_per_s": round(figures.sqlite_commits_per_s),
        "upload_mb_s": {k: round(v, 1) for k, v in figures.upload_mb_s.items()},
        "upload_peak_rss_mb": {
            k: round(v, 1) for k, v in figures.upload_peak_rss_mb.items()
        },
        "ingest_per_s": round(figures.ingest_per_s),
        "idle_cpu_percent": round(figures.idle_cpu_percent, 2),
        "startup_s": round(figures.startup_s, 2),
        "idle_rss_mb": round(figures.idle_rss_mb, 1),
        "cpu_model": figures.cpu_model,
        "cores": figures.cores,
    }


@dataclass(frozen=True)
class Row:
    """One line of the table: a figure, its baseline and its target."""

    figure: str
    value: str
    baseline: str = "–"
    ratio: str = "–"
    target: str = "–"
    met: bool | None = None

    def cells(self) -> list[str]:
        """Return the row's cells in table order."""
        met = {True: "yes", False: "**no**", None: "–"}[self.met]
        return [self.figure, self.value, self.baseline, self.ratio, self.target, met]


def _ratio(value: float, baseline: float) -> float:
    return value / baseline if baseline else 0.0


def _number(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}".replace(",", " ")


def _at_least(
    figure: str, value: float, unit: str, baseline: float, share: float
) -> Row:
    """A figure that should reach a share of its baseline."""
    ratio = _ratio(value, baseline)
    return Row(
        figure,
        f"{_number(value)} {unit}",
        f"{_number(baseline)} {unit}",
        f"{ratio:.2f}",
        f"≥ {share:g} × baseline",
        ratio >= share,
    )


def rows(f: Figures) -> list[Row]:
    """Return the table's rows, each judged against the issue's target."""
    table = [
        Row("1. baseline: bare aiohttp handler", f"{_number(f.baseline_rps)} req/s"),
        _at_least(
            f"2. form page {f.page_path}", f.page_rps, "req/s", f.baseline_rps, 0.5
        ),
        Row("2. … latency p50", f"{f.page_p50_ms:.2f} ms"),
        Row(
            "2. … latency p99",
            f"{f.page_p99_ms:.2f} ms",
            target="< 50 ms",
            met=f.page_p99_ms < 50,
        ),
        _at_least(
            "3. send without files, until the durable receipt",
            f.submit_per_s,
            "/s",
            f.sqlite_commits_per_s,
            0.5,
        ),
    ]
    for key in SIZE_KEYS.values():
        if key in f.upload_mb_s:
            table += _upload_rows(f, key)
    table += [
        _ingest_row(f),
        _idle_cpu_row(f),
        _lower_row(
            "7. start until the first 200 of /healthz",
            f.startup_s,
            "s",
            f.baseline_startup_s,
            2.0,
        ),
        _lower_row(
            "7. memory when idle (VmRSS)",
            f.idle_rss_mb,
            "MiB",
            f.baseline_idle_rss_mb,
            80.0,
        ),
    ]
    return table


def _upload_rows(f: Figures, key: str) -> list[Row]:
    speed = f.upload_mb_s[key]
    peak, idle = f.upload_peak_rss_mb[key], f.upload_idle_rss_mb[key]
    return [
        Row(
            f"4. upload of {key}",
            f"{speed:.1f} MB/s",
            f"{f.disk_write_mb_s:.0f} MB/s (disk)",
            f"{_ratio(speed, f.disk_write_mb_s):.2f}",
            "≥ 100 MB/s",
            speed >= 100,
        ),
        Row(
            f"4. … peak memory (VmHWM), {key}",
            f"{peak:.1f} MiB",
            f"{idle:.1f} MiB (idle)",
            f"+{peak - idle:.1f} MiB",
            "≤ idle + 32 MiB",
            peak - idle <= 32,
        ),
    ]


def _ingest_row(f: Figures) -> Row:
    ratio = _ratio(f.ingest_per_s, f.sqlite_commits_per_s)
    return Row(
        f"5. back office takes {f.ingest_count} pending submissions",
        f"{_number(f.ingest_per_s)} /s",
        f"{_number(f.sqlite_commits_per_s)} commits/s",
        f"{ratio:.2f}",
        "≥ 1 000 /s",
        f.ingest_per_s >= 1000,
    )


def _idle_cpu_row(f: Figures) -> Row:
    return Row(
        f"6. CPU when idle for {f.idle_seconds:g} s (1,000 changes, 1,000 links)",
        f"{f.idle_cpu_percent:.2f} %",
        f"{f.baseline_idle_cpu_percent:.2f} %",
        f"+{f.idle_cpu_percent - f.baseline_idle_cpu_percent:.2f} points",
        "< 1 %",
        f.idle_cpu_percent < 1,
    )


def _lower_row(
    figure: str, value: float, unit: str, baseline: float, ceiling: float
) -> Row:
    digits = 2 if unit == "s" else 1
    return Row(
        figure,
        f"{value:.{digits}f} {unit}",
        f"{baseline:.{digits}f} {unit}",
        f"{_ratio(value, baseline):.2f}",
        f"< {ceiling:g} {unit}",
        value < ceiling,
    )


def markdown(f: Figures, notes: list[str]) -> str:
    """Return the results as a markdown table with the machine and notes."""
    header = ["figure", "value", "baseline", "ratio", "target", "met?"]
    lines = [
        f"Machine: {f.cpu_model}, {f.cores} cores; load: {f.client}, 32 connections.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    lines += ["| " + " | ".join(row.cells()) + " |" for row in rows(f)]
    lines += ["", *(f"- {note}" for note in notes)]
    return "\n".join(lines) + "\n"


def write(folder: Path, f: Figures, notes: list[str]) -> tuple[Path, Path]:
    """Write results.json and results.md into a folder; return both paths."""
    json_path, md_path = folder / "results.json", folder / "results.md"
    json_path.write_text(json.dumps(results_json(f), indent=2) + "\n", "utf-8")
    md_path.write_text(markdown(f, notes), "utf-8")
    return json_path, md_path
