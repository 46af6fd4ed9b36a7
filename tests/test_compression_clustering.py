"""Weight clustering: linear-init k-means, tied centroid gradients, sparsity preserved."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

from mcucompress.compression import accuracy, cluster_weights, fine_tune, magnitude_prune  # noqa: E402
from mcucompress.compression.clustering import cluster_assignments, kmeans_linear  # noqa: E402
from mcucompress.compression.training_data import from_arrays  # noqa: E402
from mcucompress.compression.finetune import snap_to_clusters, tie_cluster_gradient  # noqa: E402


def test_kmeans_with_linear_init_finds_separated_groups():
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.normal(-1, 0.01, 50), rng.normal(0.2, 0.01, 30), rng.normal(3, 0.01, 3)])
    centroids, labels = kmeans_linear(values, 3)
    np.testing.assert_allclose(np.sort(centroids), [-1, 0.2, 3], atol=0.01)
    # Linear init keeps the 3 rare large weights in a cluster of their own.
    assert np.sum(labels == labels[-1]) == 3


def test_zeros_are_left_out_of_clustering_and_count_as_one_of_the_values():
    kernel = np.array([[0.0, 1.0, 1.1], [0.0, -2.0, -2.1]])
    assignment = cluster_assignments(kernel, 3)  # zero and two centroids
    assert assignment[:, 0].tolist() == [-1, -1]
    assert assignment[0, 1] == assignment[0, 2] != assignment[1, 1] == assignment[1, 2]
    assert np.unique(cluster_assignments(kernel, 2)[:, 1:]).tolist() == [0]
    assert np.unique(cluster_assignments(kernel[:, 1:], 2)).tolist() == [0, 1]  # no zeros: two centroids


def test_centroid_gradient_is_the_sum_over_members():
    grad = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], np.float32)
    assignment = np.array([[0, 1, 0], [-1, 1, 2]], np.int32)
    tied = tie_cluster_gradient(grad, assignment, 3).numpy()
    np.testing.assert_allclose(tied, [[4.0, 7.0, 4.0], [0.0, 7.0, 6.0]])
    snapped = snap_to_clusters(np.array([[1.0, 2.0, 3.0], [9.0, 4.0, 5.0]]), assignment, 3)
    np.testing.assert_allclose(snapped, [[2.0, 3.0, 2.0], [0.0, 3.0, 5.0]])


@pytest.fixture(scope="module")
def digits_and_trained_mlp(digits_data):
    """The digits split and an MLP trained on it once for both strategies (fine_tune trains a
    copy, so the tests below never change it)."""
    data = digits_data
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(48, activation="relu", name="fc1"),
                              keras.layers.Dense(10, activation="softmax", name="out")])
    return data, fine_tune(model, data, epochs=10, batch_size=32, verbose=0)


@pytest.mark.parametrize("strategy", [None, "mirrored"])
def test_pruned_model_clustered_keeps_sparsity_and_at_most_k_values(strategy, digits_and_trained_mlp):
    data, model = digits_and_trained_mlp
    keras.utils.set_random_seed(1)  # the clustering's own training, whichever test runs first
    pruned = magnitude_prune(model, None, 0.6)
    before = {layer.name: layer.kernel.numpy() for layer in pruned.layers}
    clustered = cluster_weights(pruned, None, 8)
    tuned = cluster_weights(pruned, data, 8, epochs=2, batch_size=32, strategy=strategy, verbose=0)
    for layer in tuned.layers:
        kernel, start = layer.kernel.numpy(), clustered.get_layer(layer.name).kernel.numpy()
        assert np.array_equal(kernel == 0, before[layer.name] == 0)
        assert len(np.unique(kernel)) <= 8  # zero is one of the 8 values: 3-bit indices
        # Members moved together: the partition into clusters is the one k-means chose.
        pairs = {(a, b) for a, b in zip(start[start != 0].tolist(), kernel[kernel != 0].tolist())}
        assert len(pairs) == len(np.unique(start[start != 0]))
        assert not np.array_equal(kernel, start)  # centroids were trained
    assert accuracy(tuned, data.x_val, data.y_val) > accuracy(model, data.x_val, data.y_val) - 0.08


def test_later_passes_keep_the_zeros_of_layers_they_do_not_target():
    d = load_digits()
    x, y = d.data.astype(np.float32) / 16.0, d.target
    data = from_arrays(x[:600], y[:600], x[1400:], y[1400:], (64,))
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(16, activation="relu", name="fc1"),
                              keras.layers.Dense(10, name="out")])
    pruned = magnitude_prune(model, None, 0.5)
    tuned = cluster_weights(pruned, data, 4, layers=["fc1"], epochs=1, batch_size=32, verbose=0)
    for name in ("fc1", "out"):
        kernel = tuned.get_layer(name).kernel.numpy()
        assert np.array_equal(kernel == 0, pruned.get_layer(name).kernel.numpy() == 0)
    assert not np.array_equal(tuned.get_layer("out").kernel.numpy(), pruned.get_layer("out").kernel.numpy())
