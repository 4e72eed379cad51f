"""`policy-store serve` over HTTP: every page, nothing to write, names escaped, no path from a request, bad input."""

from __future__ import annotations

import subprocess
import sys
import urllib.parse
import urllib.request

import pytest

from policy_store import PolicyStore

from .conftest import CLI, EVIL, free_port, get

PAGES = ("/", "/studies", "/studies?page=2", "/study?name=tabular%2Fa%7Cstudy-1", "/halted", "/recommendations",
         "/drift", "/drift?rule=median&metric=compute_saved", "/rules", "/lineage?rule=median")


@pytest.mark.parametrize("path", PAGES)
def test_every_page_answers_with_its_security_headers(server, path):
    status, body, headers = get(server.url + path)
    assert status == 200, body
    assert "script-src 'self'" in headers["content-security-policy"] and headers["x-content-type-options"] == "nosniff"
    assert body.count("<script") == 1 and '<script src="/static/live.js" defer></script>' in body


def test_the_studies_list_is_paginated_with_the_stores_count(server, dash_store):
    with PolicyStore(dash_store, read_only=True) as store:
        total = store.scalar("SELECT count(*) FROM studies")
    _, body, _ = get(server.url + "/studies")
    assert f"page 1 of 1 ({total} in all)" in body and body.count('href="/study?name=') == total


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_there_is_no_write_endpoint(server, method):
    for path in ("/", "/study?name=x", "/api/changes", "/rules"):
        request = urllib.request.Request(server.url + path, data=b"x", method=method)
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(request, timeout=30)
        assert e.value.code == 405


def test_names_from_the_store_and_the_request_are_escaped(server):
    _, body, _ = get(server.url + "/")
    assert EVIL not in body and "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    status, body, _ = get(server.url + "/study?name=" + urllib.parse.quote(EVIL))
    assert status == 404 and EVIL not in body and "no study &#x27;&lt;script&gt;alert(1)&lt;/script&gt;&#x27;" in body


@pytest.mark.parametrize(("path", "status"), [
    ("/static/../../../etc/passwd", 404), ("/static/live.js/../../pyproject.toml", 404), ("/etc/passwd", 404),
    ("/study", 400), ("/study?name=" + "x" * 1001, 400), ("/studies?page=0", 400), ("/studies?page=-1", 400),
    ("/recommendations?page=abc", 400), ("/drift?metric=regret;DROP", 400), ("/lineage?rule=nope", 404),
    ("/halted?study=nope", 404),
])
def test_bad_requests_are_refused_with_a_message_and_reach_no_file(server, path, status):
    code, body, _ = get(server.url + path)
    assert code == status
    assert "[build-system]" not in body and "root:" not in body


def test_a_request_addressed_to_another_host_is_refused(server):
    status, _, _ = get(server.url + "/", Host="attacker.example")
    assert status == 400


def test_the_poller_sees_the_same_signature_until_the_store_changes_and_fragments_carry_it(server):
    a = get(server.url + "/api/changes")[1]
    assert get(server.url + "/api/changes")[1] == a
    status, body, headers = get(server.url + "/rules", **{"X-Dashboard-Fragment": "1"})
    assert status == 200 and not body.lstrip().startswith("<!DOCTYPE") and headers["x-signature"] in a


def test_serve_on_a_missing_store_or_a_busy_port_is_one_error_line(tmp_path, dash_store):
    missing = subprocess.run([str(CLI), "--store", str(tmp_path / "nope.duckdb"), "serve", "--port",
                              str(free_port())], capture_output=True, text=True, timeout=120)
    assert missing.returncode == 1 and missing.stderr.startswith("Error: no store at") and "Traceback" not in \
        missing.stderr
    assert not (tmp_path / "nope.duckdb").exists()
    import socket

    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        busy = subprocess.run([str(CLI), "--store", str(dash_store), "serve", "--port", str(held.getsockname()[1])],
                              capture_output=True, text=True, timeout=120)
    assert busy.returncode == 1 and busy.stderr.count("\n") == 1 and busy.stderr.startswith("Error:")


def test_serve_without_the_extra_says_how_to_install_it(tmp_path):
    code = ("import sys; sys.modules['starlette'] = None; from policy_store.cli.main import main; "
            f"sys.exit(main(['--store', {str(tmp_path / 's.duckdb')!r}, 'serve']))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 1 and 'pip install "policy-store[dashboard]"' in run.stderr


@pytest.mark.parametrize("args", [["--port", "0"], ["--port", "70000"], ["--port", "http"], ["--refresh", "0"],
                                  ["--refresh", "nan"]])
def test_bad_serve_options_are_usage_errors(dash_store, args):
    run = subprocess.run([str(CLI), "--store", str(dash_store), "serve", *args], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 2 and "Traceback" not in run.stderr and "serve: error: argument" in run.stderr
