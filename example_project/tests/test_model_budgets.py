"""Parameter, FLOP and size budgets; AlexNet vs VGG16 (seed 000's comparison)."""
import pytest

VGG16_PATH = ".model_cache/vgg16.pb"
VGG16_LOAD = {"input_shapes": [[1, 64, 64, 3]]}  # one set of load arguments: one cached model
VGG16 = pytest.mark.tfperf_model(VGG16_PATH, **VGG16_LOAD)


@pytest.mark.param_budget(max="62.4M")  # seed 000: 62,378,344 trainable parameters
@pytest.mark.size_budget(mb=260)
@pytest.mark.flops_budget(max="2.5G")
def test_alexnet_fits(frozen_graph):
    pass


@VGG16
@pytest.mark.param_budget(max="20M")
@pytest.mark.flops_budget(max="3G")  # 2.5G: more FLOPs than AlexNet-224 (2.3G) with 3x fewer weights
def test_vgg16_at_64px_fits(frozen_graph):
    pass


@pytest.mark.memory_budget(mb=400)
def test_alexnet_peak_memory(frozen_graph):
    pass


def test_more_parameters_is_not_always_slower(tfperf, frozen_graph, sample_image):
    """Seed 000's note, made visible in the report: compare weights, FLOPs and latency rows."""
    vgg = tfperf.load(VGG16_PATH, **VGG16_LOAD)  # the model test_vgg16_at_64px_fits loaded
    alex = tfperf.measure(frozen_graph, sample_image, name="alexnet-224")
    small = tfperf.measure(vgg, name="vgg16-64")  # runs on its own fitted sample image
    assert alex.median_ms > 0 and small.median_ms > 0
