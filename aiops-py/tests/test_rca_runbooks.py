"""aiops.rca.KnowledgeBase: runbooks matched to root causes, and search."""

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
    return {"rank": rank, "resource": resource, "metric": metric, "score": 1.0,
            "confidence": confidence, "evidence": [], "affected": []}


def test_recommend_and_search():
    kb = KnowledgeBase({"cpu.md": CPU, "cart.yaml": CART})
    assert len(kb) == 2
    ids = [r["id"] for r in kb.runbooks()]
    assert ids == ["cart", "cpu"]  # by file name
    rec = kb.recommend([cause(1, "cart", "cpu", 0.9)], {"cart": "service"})
    assert [r["runbook"] for r in rec] == ["cart", "cpu"]
    assert rec[0]["actions"] == ["Restart the pricing worker"]
    assert rec[0]["score"] > rec[1]["score"]
    # A database's latency has no runbook here.
    assert kb.recommend([cause(1, "db", "latency", 0.9)], {"db": "database"}) == []
    hits = kb.search("profile", limit=5)
    assert [h["runbook"] for h in hits] == ["cpu"]


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


TOPO = """{"nodes": [{"id": "web", "kind": "service"}, {"id": "cart", "kind": "service"},
                     {"id": "db", "kind": "database"}, {"id": "host1", "kind": "host"}],
           "edges": [{"from": "web", "to": "cart", "kind": "calls"},
                     {"from": "cart", "to": "db", "kind": "calls"},
                     {"from": "cart", "to": "host1", "kind": "runs_on"}]}"""


def test_topology_queries_and_errors():
    t = aiops.rca.Topology(TOPO)
    assert len(t) == 4 and "db" in t and "nope" not in t
    assert t.nodes() == ["web", "cart", "db", "host1"]
    assert t.kind("db") == "database"
    assert t.blast_radius("db") == ["cart", "web"]
    assert t.dependents("host1", direct=True) == ["cart"]
    assert set(t.dependencies("web")) == {"cart", "db", "host1"}
    assert t.hops("web", "db") == 2
    assert ("cart", 1) in t.within("web", 1)
    with pytest.raises(aiops.InvalidInputError):
        t.kind("nope")
    with pytest.raises(aiops.ParseError):
        aiops.rca.Topology("{")
    cycle = """{"nodes": [{"id": "a", "kind": "pod"}, {"id": "b", "kind": "host"}],
                "edges": [{"from": "a", "to": "b", "kind": "runs_on"},
                          {"from": "b", "to": "a", "kind": "runs_on"}]}"""
    with pytest.raises(aiops.InvalidInputError):
        aiops.rca.Topology(cycle)
