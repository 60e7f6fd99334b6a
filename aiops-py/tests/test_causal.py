"""aiops.rca causal discovery: PC and Granger on simulated data with a known answer."""

from __future__ import annotations

import json

import numpy as np
import pytest

import aiops
from aiops import rca


def sem(n: int, seed: int) -> np.ndarray:
    """x0 -> x2 <- x1 (a collider), x2 -> x3 (a chain on from it)."""
    rng = np.random.default_rng(seed)
    x0 = rng.normal(size=n)
    x1 = rng.normal(size=n)
    x2 = x0 + x1 + rng.normal(size=n)
    x3 = -0.8 * x2 + rng.normal(size=n)
    return np.column_stack([x0, x1, x2, x3])


def test_pc_orients_a_collider_and_the_chain_after_it() -> None:
    g = rca.pc(sem(3000, 1), names=["a", "b", "c", "d"], alpha=0.01)
    assert isinstance(g, aiops.CausalGraph)
    assert g.names == ["a", "b", "c", "d"]
    assert sorted((s, t) for s, t, directed, _ in g.edges if directed) == [
        ("a", "c"),
        ("b", "c"),
        ("c", "d"),
    ]
    assert len(g) == 3 and g.tests > 0
    adj = g.adjacency
    assert adj.dtype == np.uint8 and adj.shape == (4, 4)
    assert adj[0, 2] == 1 and adj[2, 0] == 0 and adj[0, 1] == 0
    assert g.parents("c") == ["a", "b"]
    assert g.has_edge("c", "d") and not g.has_edge("d", "c")
    assert all(0.0 <= p <= 1.0 for *_, p in g.edges)
    first = rca.pc(sem(3000, 1), names=["a", "b", "c", "d"], alpha=0.01, sepset_rule="first")
    assert first.edges == g.edges and first.tests <= g.tests


class Frame:
    """The two things ``aiops.rca`` reads from a pandas DataFrame (pandas is not a test
    dependency): ``columns`` and ``to_numpy``."""

    def __init__(self, columns: dict[str, np.ndarray]) -> None:
        self.columns = list(columns)
        self._data = np.column_stack(list(columns.values()))

    def to_numpy(self, dtype: type) -> np.ndarray:
        return self._data.astype(dtype)


def test_pc_takes_a_dataframe_like_and_knowledge() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=2000)
    y = x + rng.normal(size=2000)
    z = y + rng.normal(size=2000)
    df = Frame({"db:cpu": x, "api:latency": y, "web:latency": z})
    plain = rca.pc(df, alpha=0.01)
    assert plain.names == ["db:cpu", "api:latency", "web:latency"]
    assert not any(directed for *_, directed, _ in plain.edges)  # a chain: no v-structure
    g = rca.pc(df, alpha=0.01, root_nodes=["db:cpu"])
    assert g.has_edge("db:cpu", "api:latency") and g.has_edge("api:latency", "web:latency")
    yaml = "causal-graph:\n  leaf-nodes: [web:latency]\n  forbids: null\n"
    g = rca.pc(df, alpha=0.01, knowledge=yaml)
    assert g.has_edge("api:latency", "web:latency")


def test_pc_topology_prior() -> None:
    rng = np.random.default_rng(3)
    db = rng.normal(size=2000)
    api = db + rng.normal(size=2000)
    web = api + rng.normal(size=2000)
    topo = aiops.Topology.from_dict(
        {
            "nodes": [{"id": s, "kind": "service"} for s in ("web", "api", "db")],
            "edges": [
                {"from": "web", "to": "api", "kind": "calls"},
                {"from": "api", "to": "db", "kind": "calls"},
            ],
        }
    )
    data = np.column_stack([web, api, db])
    names = ["web:latency", "api:latency", "db:latency"]
    g = rca.pc(data, names, alpha=0.01, topology=topo, follow_dependencies=True)
    assert g.has_edge("db:latency", "api:latency") and g.has_edge("api:latency", "web:latency")
    with pytest.raises(aiops.InvalidInputError, match="ghost"):
        rca.pc(data, ["web:latency", "api:latency", "ghost:x"], topology=topo)


def test_granger_finds_a_lagged_cause() -> None:
    rng = np.random.default_rng(4)
    n = 2000
    x = rng.normal(size=n)
    noise = rng.normal(size=n)
    y = np.zeros(n)
    y[2:] = 0.8 * x[:-2]
    y += noise
    z = rng.normal(size=n)
    r = rca.granger(np.column_stack([x, y, z]), names=["x", "y", "z"], alpha=0.01)
    assert isinstance(r, aiops.GrangerResult)
    assert r.p_values[0, 1] < 1e-10 and r.lags[0, 1] == 2
    assert r.p_values[1, 0] > 0.01
    assert np.isnan(r.p_values[0, 0]) and r.lags.dtype == np.int64
    assert r.graph.has_edge("x", "y") and not r.graph.has_edge("y", "x")
    assert r.f_statistics.shape == (3, 3)


def test_conditional_granger_keeps_direct_edges_only() -> None:
    rng = np.random.default_rng(6)
    n = 3000
    a, b, c = (np.zeros(n) for _ in range(3))
    e = rng.normal(size=(n, 3))
    for t in range(n):
        a[t] = e[t, 0]
        b[t] = (0.9 * a[t - 1] if t else 0.0) + e[t, 1]
        c[t] = (0.9 * b[t - 1] if t else 0.0) + e[t, 2]
    data = np.column_stack([a, b, c])
    pairwise = rca.granger(data, ["a", "b", "c"], alpha=0.001)
    conditional = rca.granger(data, ["a", "b", "c"], alpha=0.001, conditional=True)
    assert pairwise.graph.has_edge("a", "c")
    assert not conditional.graph.is_adjacent("a", "c")
    assert conditional.graph.has_edge("a", "b") and conditional.graph.has_edge("b", "c")


def test_bad_input_raises_typed_errors() -> None:
    data = sem(500, 5)
    bad = data.copy()
    bad[10, 2] = np.nan
    with pytest.raises(aiops.InvalidInputError, match="row 10"):
        rca.pc(bad)
    const = data.copy()
    const[:, 1] = 3.0
    with pytest.raises(aiops.InvalidInputError, match="constant"):
        rca.pc(const)
    with pytest.raises(aiops.InvalidInputError, match="not enough samples"):
        rca.pc(data[:4])
    with pytest.raises(aiops.InvalidParameterError, match="unknown variable"):
        rca.pc(data, forbidden=[("x0", "nope")])
    with pytest.raises(aiops.InvalidParameterError, match="contradictory"):
        rca.pc(data, forbidden=[("x0", "x2")], required=[("x0", "x2")])
    with pytest.raises(aiops.InvalidParameterError, match="alpha"):
        rca.pc(data, alpha=2.0)
    with pytest.raises(aiops.InvalidInputError):
        rca.pc(data, names=["a", "b"])
    with pytest.raises(ValueError, match="2-D"):
        rca.pc(data[:, 0])
    with pytest.raises(aiops.InvalidParameterError, match="sepset_rule"):
        rca.pc(data, sepset_rule="all")
    with pytest.raises(aiops.InvalidParameterError, match="criterion"):
        rca.granger(data, criterion="hqic")
    with pytest.raises(aiops.InvalidInputError, match="constant"):
        rca.granger(const)
    with pytest.raises(aiops.ParseError):
        rca.pc(data, knowledge="causal-graph: [unclosed")
