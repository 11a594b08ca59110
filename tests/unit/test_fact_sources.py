"""CSV and HTTP fact sources, merging and freshness."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from pipeline import facts
from pipeline.config import HttpFactsConfig, Project
from pipeline.errors import FactError
from pipeline.facts import http

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = yaml.safe_load((REPO / "facts/shenyang.yaml").read_text(encoding="utf-8"))
CSV_HEADER = (
    "key,kind,value,qualifier,unit.en,unit.zh,as_of,source.name.en,source.name.zh,source.date,subject.en,subject.zh"
)


def test_csv_one_row_per_fact(tmp_path: Path) -> None:
    path = tmp_path / "city.csv"
    path.write_text(
        f"{CSV_HEADER}\n"
        "sister_cities,count,23,,sister cities,个国际友好城市,2023-02-16,"
        "Shenyang WeChat,沈阳发布,2023-02-16,Shenyang,沈阳\n"
        "trade_partners,count,220,more_than,countries and regions,个国家和地区,2022-12-31,,,,,\n"
        "growth,quantity,4.5,,percent,%,2022-12-31,,,,,\n",
        encoding="utf-8",
    )
    fact_set = facts.load(path)
    assert fact_set.subject == {"en": "Shenyang", "zh": "沈阳"}
    assert fact_set.facts["trade_partners"].qualifier == "more_than"
    assert fact_set.facts["trade_partners"].source.name == {"en": "Shenyang WeChat", "zh": "沈阳发布"}
    assert (fact_set.facts["growth"].value, fact_set.facts["growth"].line) == (pytest.approx(4.5), 4)


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ("bad,count,lots,,x,y,2022-12-31,S,S,2023-01-01,,", ":2: facts.bad: a count needs a numeric value"),
        ("bad,count,3,,x,y,31/12/2022,S,S,2023-01-01,,", ":2: facts.bad.as_of: "),
        ("bad,tally,3,,x,y,2022-12-31,S,S,2023-01-01,,", ":2: facts.bad.kind: Input should be"),
        (",count,3,,x,y,2022-12-31,S,S,2023-01-01,,", ":2: a row needs a key"),
        ("bad,count,3,,x,y,2022-12-31,S,S,2023-01-01,,,extra", ":2: more cells than the header has columns"),
    ],
)
def test_csv_errors_name_line_and_column(tmp_path: Path, row: str, expected: str) -> None:
    path = tmp_path / "city.csv"
    path.write_text(f"{CSV_HEADER}\n{row}\n", encoding="utf-8")
    with pytest.raises(FactError) as caught:
        facts.load(path)
    assert f"{path}{expected}" in str(caught.value)


def test_duplicate_yaml_key_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "city.yaml"
    path.write_text("subject: X\nsource: {name: S, date: 2023-01-01}\nfacts: {}\nsubject: Y\n")
    with pytest.raises(FactError, match=r"city.yaml:4: subject: this key is given twice \(first on line 1\)"):
        facts.load(path)


def test_merging_sources_refuses_a_key_twice(project_dir: Path, tmp_path: Path) -> None:
    extra = project_dir / "facts/extra.csv"
    extra.write_text(f"{CSV_HEADER}\nsister_cities,count,24,,x,y,2023-01-01,S,S,2023-01-01,,\n", encoding="utf-8")
    with pytest.raises(FactError, match=r"extra.csv:2: fact 'sister_cities' is also defined in .*shenyang.yaml:\d+"):
        facts.load_all(["facts/shenyang.yaml", "facts/extra.csv"], Project(project_dir))
    extra.write_text(f"{CSV_HEADER}\nflights,count,80,,x,y,2023-01-01,S,S,2023-01-01,,\n", encoding="utf-8")
    merged = facts.load_all(["facts/shenyang.yaml", "facts/extra.csv"], Project(project_dir))
    assert merged.subject["en"] == "Shenyang" and merged.facts["flights"].value == 80


def test_a_subject_is_needed_from_some_source(tmp_path: Path) -> None:
    path = tmp_path / "city.csv"
    path.write_text(f"{CSV_HEADER}\nflights,count,80,,x,y,2023-01-01,S,S,2023-01-01,,\n", encoding="utf-8")
    with pytest.raises(FactError, match=r"city.csv: no source names the subject"):
        facts.load_all([str(path)], Project(tmp_path))


def test_stale_facts_are_named() -> None:
    fact_set = facts.load(REPO / "facts/shenyang.yaml")
    facts.require_fresh(fact_set, dt.timedelta(days=400), dt.date(2023, 3, 1))
    with pytest.raises(FactError) as caught:
        facts.require_fresh(fact_set, dt.timedelta(days=150), dt.date(2023, 3, 1))
    stale = str(caught.value)
    assert "facts.international_schools: dated 2022-08-31" in stale and "sister_cities" not in stale


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        routes = {
            "/facts.json": lambda: self._send(json.dumps(EXAMPLE, default=str).encode()),
            "/redirect-local": lambda: self._redirect(f"http://localhost:{self.server.server_port}/facts.json"),
            "/redirect-file": lambda: self._redirect("file:///etc/passwd"),
            "/big": lambda: self._send(b" " * 2_000_000, length=False),
            "/slow": self._slow,
            "/broken.json": lambda: self._send(b'{"subject": "X",\n "facts": [1]}'),
        }
        routes.get(self.path, lambda: self.send_error(404))()

    def _send(self, body: bytes, length: bool = True) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        if length:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.end_headers()

    def _slow(self) -> None:
        time.sleep(1.5)  # longer than the client's read timeout: the client is gone by now
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self._send(b"{}")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()


ALLOW = http.HttpPolicy(allow_hosts=frozenset({"127.0.0.1"}))


def test_http_source_loads_json_when_the_host_is_allowed(server: str) -> None:
    fact_set = http.load(f"{server}/facts.json", ALLOW)
    assert fact_set.facts["sister_cities"].value == 23 and fact_set.origin == f"{server}/facts.json"


def test_http_source_refuses_loopback_by_default(server: str) -> None:
    with pytest.raises(FactError, match=r"resolves to the non-public address 127\.0\.0\.1; allow the host"):
        http.load(f"{server}/facts.json", http.HttpPolicy())


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.org/x.json", "gopher://x"])
def test_http_source_refuses_other_schemes(url: str) -> None:
    with pytest.raises(FactError, match=r"only http:// and https://"):
        http.load(url, http.HttpPolicy())


@pytest.mark.parametrize("address", ["10.0.0.1", "192.168.1.1", "169.254.169.254", "[::1]", "0.0.0.0", "100.64.0.1"])
def test_private_and_link_local_addresses_are_refused_before_any_request(address: str) -> None:
    with pytest.raises(FactError, match=r"non-public address"):
        http.check_address(f"http://{address}/facts.json", http.HttpPolicy())


def test_redirects_are_checked_too(server: str) -> None:
    with pytest.raises(FactError, match=r"localhost resolves to the non-public address"):
        http.load(f"{server}/redirect-local", ALLOW)
    with pytest.raises(FactError, match=r"only http:// and https://"):
        http.load(f"{server}/redirect-file", ALLOW)


def test_size_cap_and_timeouts(server: str) -> None:
    with pytest.raises(FactError, match=r"larger than 1000000 bytes"):
        http.load(f"{server}/big", ALLOW)
    quick = http.HttpPolicy(allow_hosts=frozenset({"127.0.0.1"}), read_timeout=0.3)
    with pytest.raises(FactError, match=r"no answer within 0\.3 s"):
        http.load(f"{server}/slow", quick)
    with pytest.raises(FactError, match=r"the server answered HTTP 404"):
        http.load(f"{server}/missing", ALLOW)


def test_http_errors_name_the_url_and_line(server: str) -> None:
    with pytest.raises(FactError) as caught:
        http.load(f"{server}/broken.json", ALLOW)
    assert f"{server}/broken.json:2: facts: " in str(caught.value)


def test_job_http_reference(server: str, project_dir: Path) -> None:
    ref = HttpFactsConfig(url=f"{server}/facts.json", allow_hosts=("127.0.0.1",))
    assert facts.load_ref(ref, Project(project_dir)).subject["zh"] == "沈阳"
