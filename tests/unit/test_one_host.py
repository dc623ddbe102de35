"""The embedded tantivy index serves one host (#13): with a record on a database server (how
several hosts share one) the writers and readers refuse with a clear error, and on one host a
second writer of the index is refused (``WriterBusy``)."""

from __future__ import annotations

import pytest

from heatseeker import cli
from heatseeker.engines import OneHostOnly, check_hosts, open_engine
from heatseeker.engines.opensearch import OpenSearchEngine
from heatseeker.engines.tantivy import TantivyEngine
from heatseeker.record import Store

SERVER = "mysql+pymysql://heatseeker:secret@127.0.0.1:1/heatseeker"  # never reached: refused first


def run(capsys, conf_file, *argv):
    code = cli.main(["--config-file", conf_file, *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def write_conf(tmp_path, extra: str = "") -> str:
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    conf = tmp_path / "h.conf"
    conf.write_text(f"[DEFAULT]\ndata_dir = {data}\n{extra}")
    return str(conf)


def load(conf_file):
    return cli.load_conf(cli.build_parser().parse_args(["--config-file", conf_file, "status"]))


@pytest.mark.parametrize("argv", [["listen"], ["sync"], ["reindex"],
                                  ["search", "--all-projects", "name:x"]])
def test_tantivy_with_a_record_on_a_server_is_refused(tmp_path, capsys, argv):
    conf = write_conf(tmp_path, f"[database]\nconnection = {SERVER}\n")
    code, _, err = run(capsys, conf, *argv)
    assert code == 1
    assert "serves one host only" in err and "backend = opensearch" in err
    assert "secret" not in err  # the password is not shown
    assert "heatseeker:***@127.0.0.1:1" in err


def test_reindex_into_opensearch_is_the_way_out(tmp_path):
    conf = load(write_conf(tmp_path, f"[database]\nconnection = {SERVER}\n"))
    with pytest.raises(OneHostOnly):
        check_hosts(conf)
    check_hosts(conf, OpenSearchEngine)  # several hosts share its index
    conf.set_override("backend", "opensearch", group="engine")
    check_hosts(conf)


def test_tantivy_with_the_embedded_record_is_allowed(tmp_path):
    for extra in ("", f"[database]\nconnection = sqlite:///{tmp_path}/elsewhere.sqlite\n"):
        conf = load(write_conf(tmp_path, extra))
        check_hosts(conf, TantivyEngine)
        open_engine(conf).close()


def test_a_second_writer_of_the_embedded_index_is_refused(tmp_path, capsys):
    conf_file = write_conf(tmp_path)
    Store(str(tmp_path / "data" / "state.sqlite"))  # an empty record, as `sync` makes it
    assert run(capsys, conf_file, "reindex")[0] == 0
    first = open_engine(load(conf_file))  # the listener, say: it holds the index writer
    try:
        first.commit(checkpoint=first.checkpoint())
        code, _, err = run(capsys, conf_file, "reindex")
        assert code == 1
        assert "allows one writer" in err and "is a listener already running?" in err
    finally:
        first.close()
    assert run(capsys, conf_file, "reindex")[0] == 0  # the writer went with it
