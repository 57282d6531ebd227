"""Clusters: connected components over the pairs strong enough to merge.

Matching is pairwise but merging is per entity: if a~b and b~c both clear the auto-merge bar,
a, b and c become one record. `min_pair_probability` is the weakest link that holds a cluster
together, the number a reviewer should look at first.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

CLUSTER_SCHEMA = pa.schema(
    [
        ("cluster_id", pa.string()),
        ("record_id", pa.string()),
        ("cluster_size", pa.int64()),
        ("min_pair_probability", pa.float64()),
    ]
)


def cluster_pairs(
    ids: pa.Array, left: IntArray, right: IntArray, probability: FloatArray
) -> pa.Table:
    """Records in clusters of two or more; the cluster id is its smallest record id."""
    n = len(ids)
    if len(left) == 0:
        return CLUSTER_SCHEMA.empty_table()
    graph = coo_matrix((np.ones(len(left)), (left, right)), shape=(n, n))
    _, label = connected_components(graph, directed=False)
    size = np.bincount(label)
    weakest = np.ones(len(size))
    np.minimum.at(weakest, label[left], probability)
    members = np.flatnonzero(size[label] > 1)
    member_ids = ids.take(pa.array(members)).to_pylist()
    first: dict[int, str] = {}
    for pos, rid in zip(members.tolist(), member_ids, strict=True):
        lab = int(label[pos])
        if lab not in first or rid < first[lab]:
            first[lab] = rid
    labels = label[members]
    order = np.lexsort((np.array(member_ids, dtype=object).astype(str), labels))
    return pa.table(
        {
            "cluster_id": pa.array([first[int(label_)] for label_ in labels[order]], pa.string()),
            "record_id": pa.array([member_ids[i] for i in order], pa.string()),
            "cluster_size": pa.array(size[labels[order]].astype(np.int64)),
            "min_pair_probability": pa.array(weakest[labels[order]].astype(np.float64)),
        },
        schema=CLUSTER_SCHEMA,
    )
