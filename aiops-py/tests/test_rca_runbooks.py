"""aiops.rca.KnowledgeBase: runbooks matched to root causes, and search."""

import json

import pytest

import aiops
from aiops.rca import KnowledgeBase

CPU = """---
kinds: [service, host]
metrics: ['cpu*']
---
# CPU saturation
- Take a CPU profile
- Scale out
"""
CART = "title: Cart pricing worker\nresources: [cart]\nmetrics: [cpu]\nactions: [Restart the pricing worker]\n"


def cause(rank, resource, metric, confidence):
    return aiops.rca.RootCause(rank, resource, metric, score=1.0, confidence=confidence)


def test_recommend_and_search():
    kb = KnowledgeBase({"cpu.md": CPU, "cart.yaml": CART})
    assert len(kb) == 2
    runbooks = kb.runbooks()
    assert [r.id for r in runbooks] == ["cart", "cpu"]  # by file name
    assert runbooks[1].kinds == ["service", "host"] and runbooks[1].actions == ["Take a CPU profile", "Scale out"]
    assert runbooks[0].to_dict()["title"] == "Cart pricing worker"
    rec = kb.recommend([cause(1, "cart", "cpu", 0.9)], {"cart": "service"})
    assert all(isinstance(r, aiops.rca.Recommendation) for r in rec)
    assert [r.runbook for r in rec] == ["cart", "cpu"]
    assert rec[0].actions == ["Restart the pricing worker"]
    assert rec[0].score > rec[1].score
    assert rec[0].to_dict()["cause_rank"] == 1
    # Causes may also be dicts of the same fields, and the kinds may come from a Topology.
    as_dict = cause(1, "cart", "cpu", 0.9).to_dict()
    topo = aiops.Topology([("cart", "service")])
    assert kb.recommend([as_dict], topo) == rec
    # A database's latency has no runbook here.
    assert kb.recommend([cause(1, "db", "latency", 0.9)], {"db": "database"}) == []
    hits = kb.search("profile", limit=5)
    assert [h.runbook for h in hits] == ["cpu"] and hits[0].score > 0


def test_load_dir_and_errors(tmp_path):
    (tmp_path / "cpu.md").write_text(CPU)
    (tmp_path / "README.txt").write_text("not a runbook")
    assert len(KnowledgeBase.load_dir(tmp_path)) == 1
    with pytest.raises(OSError):
        KnowledgeBase.load_dir(tmp_path / "missing")
    with pytest.raises(aiops.ParseError):
        KnowledgeBase({"bad.md": "---\nkinds: [x\n---\n"})
    with pytest.raises(aiops.ParseError):
        KnowledgeBase({"a.md": "# A", "b.md": "---\nid: a\n---\n"})
    with pytest.raises(aiops.ParseError):
        KnowledgeBase({"cpu.md": CPU}).recommend([{"rank": 1}], {})


def test_rank_recommends_runbooks_from_a_knowledge_base():
    import numpy as np

    topo = aiops.Topology([("web", "service"), ("cart", "service")], [("web", "cart", "calls")])
    rng = np.random.default_rng(1)
    t = 1_700_000_000_000 + 60_000 * np.arange(100, dtype=np.int64)
    v = rng.normal(0.0, 1.0, (100, 2)) + 50.0
    v[70:, 1] += 40.0
    kb = KnowledgeBase({"cpu.md": CPU, "cart.yaml": CART})
    r = aiops.rca.rank(topo, t, v, ["web:latency", "cart:cpu"], knowledge_base=kb)
    assert r.root_causes[0].resource == "cart"
    assert [a.runbook for a in r.recommended_actions][:1] == ["cart"]
    assert r.to_dict()["recommended_actions"][0]["runbook"] == "cart"


TOPO = aiops.Topology.from_json("""{"nodes": [{"id": "web", "kind": "service"}, {"id": "cart", "kind": "service"},
                     {"id": "db", "kind": "database"}, {"id": "host1", "kind": "host"}],
           "edges": [{"from": "web", "to": "cart", "kind": "calls"},
                     {"from": "cart", "to": "db", "kind": "calls"},
                     {"from": "cart", "to": "host1", "kind": "runs_on"}]}""")


def test_topology_queries_and_errors():
    t = TOPO
    assert len(t) == 4 and "db" in t and "nope" not in t
    assert t.nodes() == ["web", "cart", "db", "host1"]
    assert t.kind("db") == "database"
    assert t.blast_radius("db") == ["cart", "web"]
    assert t.dependents("host1", direct=True) == ["cart"]
    assert set(t.dependencies("web")) == {"cart", "db", "host1"}
    assert t.hops("web", "db") == 2
    assert ("cart", 1) in t.within("web", 1)
    with pytest.raises(aiops.UnknownResourceError):
        t.kind("nope")
    with pytest.raises(aiops.ParseError):
        aiops.Topology.from_json("{")
    assert t.edges()[0] == ("web", "cart", "calls")
    assert repr(t) == "Topology(nodes=4, edges=3)"


def test_topology_from_every_source(tmp_path):
    import pickle

    d = TOPO.to_dict()
    assert d["nodes"][0] == {"id": "web", "kind": "service"}
    (tmp_path / "t.json").write_text(json.dumps(d))
    same = [
        aiops.Topology.from_dict(d),
        aiops.Topology.from_file(tmp_path / "t.json"),
        aiops.Topology(d["nodes"], d["edges"]),
        aiops.Topology([(n["id"], n["kind"]) for n in d["nodes"]], [(e["from"], e["to"], e["kind"]) for e in d["edges"]]),
        pickle.loads(pickle.dumps(TOPO)),
    ]
    for t in same:
        assert t == TOPO
    with pytest.raises(aiops.AiopsFileNotFoundError):
        aiops.Topology.from_file(tmp_path / "missing.json")
    with pytest.raises(aiops.InvalidInputError, match="unknown node"):
        aiops.Topology([("a", "service")], [("a", "b", "calls")])
    with pytest.raises(aiops.InvalidParameterError, match="edge kind"):
        aiops.Topology([("a", "service"), ("b", "host")], [("a", "b", "hugs")])
    with pytest.raises(aiops.ParseError, match="unknown key"):
        aiops.Topology.from_dict({"nodes": [], "links": []})
    cycle = """{"nodes": [{"id": "a", "kind": "pod"}, {"id": "b", "kind": "host"}],
                "edges": [{"from": "a", "to": "b", "kind": "runs_on"},
                          {"from": "b", "to": "a", "kind": "runs_on"}]}"""
    with pytest.raises(aiops.InvalidInputError):
        aiops.Topology.from_json(cycle)
