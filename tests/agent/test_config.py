"""Strict config: every mistake names the file, the key and the fix; secrets stay secret."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from edge_agent.config import ConfigError, load_config
from edge_agent.redact import RedactingFilter, scrub

BASE = """
agent: {id: c0417-edge01, data_dir: data}
collector: {url: "http://127.0.0.1:9", token: "${LW_TOKEN}"}
cameras:
  - {compound: c0417, id: cam03, url: "rtsp://admin:${CAM_PW}@192.0.2.3/stream1"}
"""


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LW_TOKEN", "tok-Zq81-secret")
    monkeypatch.setenv("CAM_PW", "pw-Kx77-secret")


def _write(tmp_path: Path, text: str, name: str = "edge.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_example_configs_load(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2] / "config"
    secret = tmp_path / "cam07_password"
    secret.write_text("pw-07\n")
    text = (root / "edge.yaml").read_text().replace("/run/secrets/cam07_password", str(secret))
    (tmp_path / "cameras.csv").write_text((root / "cameras.csv").read_text())
    monkeypatch.setenv("LENSWATCH_TOKEN", "t0ken-xyz")
    monkeypatch.setenv("CAM_PASS_C0417", "pw-c0417")
    cfg = load_config(_write(tmp_path, text))
    keys = [c.key for c in cfg.cameras]
    assert keys == ["c0417/cam03", "c0417/cam07", "c0417/cam11", "c0417/cam12"]
    cam12 = cfg.cameras[3]
    assert cam12.sample_interval == 4 and cam12.faults == ("signal_loss", "blocked", "blur")
    assert cfg.cameras[2].quiet and cfg.cameras[2].substream
    assert "pw-07" in cfg.cameras[1].url and "pw-07" not in scrub(cfg.cameras[1].url)


@pytest.mark.parametrize("text, key, fix", [
    (BASE.replace("data_dir", "dta_dir"), "agent.dta_dir", "did you mean 'data_dir'"),
    (BASE + "defaults: {sample_interval: fast}\n", "defaults.sample_interval", "number"),
    (BASE + "defaults: {faults: [blokked]}\n", "defaults.faults[0]", "blocked"),
    (BASE + "defaults: {quiet: ['3am']}\n", "defaults.quiet[0]", "HH:MM-HH:MM"),
    (BASE.replace("${LW_TOKEN}", "literal"), "collector.token", "${LENSWATCH_TOKEN}"),
    (BASE.replace("${CAM_PW}", "${NOPE_PW}"), "cameras[0].url", "export NOPE_PW"),
    (BASE.replace("id: cam03", "id: 'cam 03'"), "cameras[0].id", "letters, digits"),
    (BASE + "agent2: {}\n", "agent2", "allowed keys"),
    (BASE.replace("{id: c0417-edge01, data_dir: data}", "{id: x, mode: fast}"), "agent.mode",
     "continuous"),
])
def test_errors_name_file_key_and_fix(tmp_path: Path, text: str, key: str, fix: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    msg = str(err.value)
    assert str(path) in msg and err.value.key == key and fix in msg, msg


def test_csv_inventory_errors_name_row_and_column(tmp_path: Path) -> None:
    _write(tmp_path, "compound,camera,url,colour\nc1,cam1,rtsp://h/s,red\n", "cams.csv")
    path = _write(tmp_path, BASE + "cameras_csv: cams.csv\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert "cams.csv" in str(err.value) and "colour" in err.value.key
    _write(tmp_path, "compound,camera,url,sample_interval\nc1,cam1,rtsp://h/s,often\n",
           "cams.csv")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert err.value.key == "row 2 column 'sample_interval'"


def test_grace_must_outlast_a_hung_read(tmp_path: Path) -> None:
    path = _write(tmp_path, BASE + "defaults: {signal_loss_grace: 5, read_timeout: 5}\n")
    with pytest.raises(ConfigError, match="signal_loss_grace"):
        load_config(path)


def test_secrets_never_in_repr_or_logs(tmp_path: Path, caplog: pytest.LogCaptureFixture
                                       ) -> None:
    cfg = load_config(_write(tmp_path, BASE))
    assert "tok-Zq81-secret" not in repr(cfg)
    logger = logging.getLogger("lenswatch.test.redact")
    handler = logging.Handler()
    seen: list[str] = []
    handler.emit = lambda r: seen.append(r.getMessage() + (r.exc_text or ""))  # type: ignore
    handler.addFilter(RedactingFilter())
    logger.addHandler(handler)
    try:
        logger.warning("opening %s with %s", cfg.cameras[0].url, cfg.collector.token)
        try:
            raise RuntimeError(f"boom {cfg.cameras[0].url}")
        except RuntimeError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    text = "\n".join(seen)
    assert "pw-Kx77-secret" not in text and "tok-Zq81-secret" not in text
    assert "rtsp://admin:***@192.0.2.3/stream1" in text
