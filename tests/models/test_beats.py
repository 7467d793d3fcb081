"""BEATs: the official checkpoint layout, strict loading through the registry, the official front-end
and forward equations, padding masks, layer taps, and every error contract."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
import torchaudio.compliance.kaldi as ta_kaldi

from workbench.data.download import RemoteFile
from workbench.errors import AudioError, CheckpointError
from workbench.models.beats import (
    ARCHITECTURE_FIELDS,
    BEATs,
    BEATsConfig,
    load_official_checkpoint,
    official_checkpoint_converter,
    relative_position_bucket,
)
from workbench.models.registry import (
    PretrainedSpec,
    load_pretrained,
    register_pretrained,
    spec,
    unregister_pretrained,
)

# The cfg stored in the official BEATs_iter3_plus_AS2M.pt (plus the training-only entries it carries).
ITER3_PLUS_CFG: dict[str, Any] = {
    "encoder_layers": 12, "encoder_embed_dim": 768, "encoder_ffn_embed_dim": 3072,
    "encoder_attention_heads": 12, "activation_fn": "gelu", "dropout": 0.0, "attention_dropout": 0.0,
    "activation_dropout": 0.0, "encoder_layerdrop": 0.05, "dropout_input": 0.0, "layer_norm_first": False,
    "conv_bias": False, "conv_pos": 128, "conv_pos_groups": 16, "relative_position_embedding": True,
    "num_buckets": 320, "max_distance": 800, "gru_rel_pos": True, "deep_norm": True, "input_patch_size": 16,
    "layer_wise_gradient_decay_ratio": 0.6, "embed_dim": 512, "finetuned_model": False,
}  # fmt: skip


def official_layout(cfg: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    """Tensor names and shapes of the official BEATs(cfg).state_dict(), written from the official
    BEATs.py/backbone.py: nn.utils.weight_norm(dim=2) on pos_conv inside an nn.Sequential, and layer 0's
    relative position table assigned to every layer (so each layer lists it)."""
    width, heads, kernel = cfg["encoder_embed_dim"], cfg["encoder_attention_heads"], cfg["conv_pos"]
    patch, channels, ffn = cfg["input_patch_size"], cfg["embed_dim"], cfg["encoder_ffn_embed_dim"]
    layout: dict[str, tuple[int, ...]] = {"patch_embedding.weight": (channels, 1, patch, patch)}
    if cfg["conv_bias"]:
        layout["patch_embedding.bias"] = (channels,)
    layout |= {"layer_norm.weight": (channels,), "layer_norm.bias": (channels,)}
    if channels != width:
        layout |= {"post_extract_proj.weight": (width, channels), "post_extract_proj.bias": (width,)}
    layout |= {
        "encoder.pos_conv.0.bias": (width,),
        "encoder.pos_conv.0.weight_g": (1, 1, kernel),
        "encoder.pos_conv.0.weight_v": (width, width // cfg["conv_pos_groups"], kernel),
        "encoder.layer_norm.weight": (width,),
        "encoder.layer_norm.bias": (width,),
    }
    for index in range(cfg["encoder_layers"]):
        prefix = f"encoder.layers.{index}."
        for projection in ("k_proj", "v_proj", "q_proj", "out_proj"):
            name = f"{prefix}self_attn.{projection}"
            layout |= {f"{name}.weight": (width, width), f"{name}.bias": (width,)}
        if cfg["relative_position_embedding"]:
            layout[f"{prefix}self_attn.relative_attention_bias.weight"] = (cfg["num_buckets"], heads)
        if cfg["gru_rel_pos"]:
            layout |= {
                f"{prefix}self_attn.grep_a": (1, heads, 1, 1),
                f"{prefix}self_attn.grep_linear.weight": (8, width // heads),
                f"{prefix}self_attn.grep_linear.bias": (8,),
            }
        for norm in ("self_attn_layer_norm", "final_layer_norm"):
            layout |= {f"{prefix}{norm}.weight": (width,), f"{prefix}{norm}.bias": (width,)}
        layout |= {f"{prefix}fc1.weight": (ffn, width), f"{prefix}fc1.bias": (ffn,)}
        layout |= {f"{prefix}fc2.weight": (width, ffn), f"{prefix}fc2.bias": (width,)}
    if cfg.get("finetuned_model"):
        layout |= {"predictor.weight": (cfg["predictor_class"], width), "predictor.bias": (cfg["predictor_class"],)}
    return layout


def official_checkpoint(config: BEATsConfig, seed: int = 0, label_dict: bool = False) -> dict[str, Any]:
    """A file in the official layout with random values: {"cfg", "model"[, "label_dict"]}."""
    cfg = config.to_official() | {"encoder_layerdrop": 0.05, "a_field_from_the_future": "ignored"}
    generator = torch.Generator().manual_seed(seed)
    state = {name: torch.randn(shape, generator=generator) * 0.1 for name, shape in official_layout(cfg).items()}
    table = "encoder.layers.{}.self_attn.relative_attention_bias.weight"
    for index in range(1, config.encoder_layers):
        state[table.format(index)] = state[table.format(0)].clone()  # one shared table, saved once per layer
    checkpoint: dict[str, Any] = {"cfg": cfg, "model": state}
    if label_dict:
        checkpoint["label_dict"] = {index: f"/m/{index:04d}" for index in range(config.predictor_class)}
    return checkpoint


TINY = BEATsConfig.tiny(predictor_class=5)
TINY_NAME = "beats-test-tiny"


@pytest.fixture
def tiny_file(tmp_path: Path) -> Path:
    path = tmp_path / "tiny_beats.pt"
    torch.save(official_checkpoint(TINY), path)
    return path


@pytest.fixture
def tiny_registered() -> Iterator[PretrainedSpec]:
    entry = register_pretrained(
        PretrainedSpec(
            name=TINY_NAME,
            description="tiny BEATs for tests",
            remote=RemoteFile(url="file:///nonexistent/tiny_beats.pt", sha256=None, filename="tiny_beats.pt"),
            build=lambda: BEATs(TINY),
            convert=official_checkpoint_converter(TINY),
        )
    )
    yield entry
    unregister_pretrained(TINY_NAME)


@pytest.fixture(scope="module")
def tiny_model() -> BEATs:
    torch.manual_seed(0)
    model = BEATs(TINY).eval()
    with torch.no_grad():  # non-trivial gates, so the gated bias is exercised
        for layer in model.encoder.layers:
            layer.self_attn.grep_a.uniform_(0.5, 1.5)
    return model


def waveform(batch: int, samples: int, seed: int = 1) -> torch.Tensor:
    return torch.randn(batch, samples, generator=torch.Generator().manual_seed(seed)) * 0.1


# --------------------------------------------------------------------------------------------------
# Configuration and official layout


def test_iter3_plus_layout_matches_the_official_code():
    layout = official_layout(ITER3_PLUS_CFG | {"finetuned_model": True, "predictor_class": 527})
    # Anchors read directly off the official code for iter3+: 250 tensors pre-trained, 252 fine-tuned.
    assert len(layout) == 252
    assert layout["encoder.pos_conv.0.weight_v"] == (768, 48, 128)
    assert layout["encoder.pos_conv.0.weight_g"] == (1, 1, 128)
    assert layout["encoder.layers.11.self_attn.relative_attention_bias.weight"] == (320, 12)
    assert layout["encoder.layers.3.self_attn.grep_linear.weight"] == (8, 64)
    assert "patch_embedding.bias" not in layout
    model = BEATs(BEATsConfig.iter3_plus(finetuned=True))
    assert {name: tuple(tensor.shape) for name, tensor in model.state_dict().items()} == layout
    assert model.embedding_dim == 768 and model.layer_names == [f"layer{index}" for index in range(1, 13)]


def test_config_from_official_cfg():
    # predictor_dropout is absent from the pre-trained cfg, so it takes the official class default.
    expected = dataclasses.replace(BEATsConfig.iter3_plus(), predictor_dropout=0.1)
    assert BEATsConfig.from_official(ITER3_PLUS_CFG) == expected
    # Unknown entries are ignored; absent ones take the official class defaults, as the official loader.
    sparse = BEATsConfig.from_official({"input_patch_size": 16, "some_new_option": [1, 2]})
    assert (sparse.max_distance, sparse.deep_norm, sparse.gru_rel_pos, sparse.dropout) == (1280, False, False, 0.1)
    # Older cfgs store flags as 0/1 and floats as ints.
    coerced = BEATsConfig.from_official(ITER3_PLUS_CFG | {"gru_rel_pos": 1, "dropout": 0})
    assert coerced.gru_rel_pos is True and coerced.dropout == 0.0
    config = BEATsConfig.tiny(finetuned_model=True, predictor_class=3)
    assert BEATsConfig.from_official(config.to_official()) == config
    assert set(ARCHITECTURE_FIELDS) <= set(config.to_official())


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"encoder_attention_heads": 3}, r"encoder_embed_dim \(64\) must be divisible by encoder_attention_heads"),
        ({"deep_norm": True, "layer_norm_first": True}, "cannot be combined with layer_norm_first"),
        ({"activation_fn": "glu"}, r"activation_fn must be one of \['gelu', 'gelu_accurate', 'relu'\], got 'glu'"),
        ({"input_patch_size": -1}, "input_patch_size must be a positive integer, got -1"),
        ({"num_buckets": 32, "max_distance": 4}, "max_distance > num_buckets / 4"),
        ({"tag_names": ("a", "b")}, r"2 tag_names for a head of predictor_class=527"),
    ],
)
def test_config_rejects_impossible_values(overrides, message):
    with pytest.raises(ValueError, match=message):
        BEATsConfig.tiny(**overrides)


def test_from_official_rejects_values_of_the_wrong_type():
    with pytest.raises(ValueError, match=r"cfg\['encoder_layers'\] must be a int, got '12'"):
        BEATsConfig.from_official(ITER3_PLUS_CFG | {"encoder_layers": "12"})
    with pytest.raises(CheckpointError, match="'cfg' must be a dict, got list"):
        BEATsConfig.from_official([("encoder_layers", 12)])


# --------------------------------------------------------------------------------------------------
# Loading official checkpoints


def test_official_layout_loads_strictly_through_the_registry(tiny_registered, tiny_file):
    model = load_pretrained(TINY_NAME, path=tiny_file)
    assert isinstance(model, BEATs) and not model.training
    official = torch.load(tiny_file, weights_only=True)["model"]
    ours = model.state_dict()
    assert ours.keys() == official.keys()
    for name, tensor in official.items():
        assert torch.equal(ours[name], tensor), name
    assert model.embed(waveform(1, 8000)).shape == (1, 64)


def test_registered_iter3_plus_entries():
    pretrained, finetuned = spec("beats-iter3-plus"), spec("beats-iter3-plus-as2m-cpt2")
    assert pretrained.remote.filename == "BEATs_iter3_plus_AS2M.pt"
    assert finetuned.remote.filename == "BEATs_iter3_plus_AS2M_finetuned_on_AS2M_cpt2.pt"
    # Checksums of the official OneDrive files (workbench.models.registry.PUBLISHED_CHECKSUMS).
    assert (pretrained.remote.sha256, pretrained.remote.size_bytes) == (
        "d43cbfad4d7b56381c061d7a24774f908d4d94c72961f6eb1d9090ff18cd8d34", 361_499_833)
    assert (finetuned.remote.sha256, finetuned.remote.size_bytes) == (
        "e5815275a04b6885e7b8af63d120b29bffae2cd2225cf4915e1ec6d819d3022c", 363_145_291)
    assert "2**15" in pretrained.frontend and "15.41663" in pretrained.frontend
    # convert accepts the official cfg (extra training entries included) and passes the state_dict through.
    state = {"encoder.layers.0.self_attn.relative_attention_bias.weight": torch.ones(320, 12)}
    assert pretrained.convert({"cfg": ITER3_PLUS_CFG, "model": state}) == state
    finetuned_cfg = ITER3_PLUS_CFG | {"finetuned_model": True, "predictor_class": 527, "predictor_dropout": 0.0}
    assert finetuned.convert({"cfg": finetuned_cfg, "model": state}) == state
    with pytest.raises(CheckpointError, match="finetuned_model=True where this model has False"):
        pretrained.convert({"cfg": finetuned_cfg, "model": state})
    assert pretrained.convert({"cfg": ITER3_PLUS_CFG | {"predictor_class": 10}, "model": state}) == state
    with pytest.raises(CheckpointError, match="predictor_class=10 where this model has 527"):
        finetuned.convert({"cfg": finetuned_cfg | {"predictor_class": 10}, "model": state})


def test_a_checkpoint_of_another_configuration_names_the_field(tiny_file):
    with pytest.raises(CheckpointError, match=r"embed_dim=32 where this model has 512.*load_official_checkpoint"):
        load_pretrained("beats-iter3-plus", path=tiny_file)


def test_checkpoint_layout_errors(tiny_registered, tmp_path):
    checkpoint = official_checkpoint(TINY)
    bare = tmp_path / "bare.pt"
    torch.save(checkpoint["model"], bare)  # a state_dict without its cfg
    with pytest.raises(CheckpointError, match=r"not an official BEATs checkpoint .*; found \['encoder"):
        load_pretrained(TINY_NAME, path=bare)
    unshared = tmp_path / "unshared.pt"
    checkpoint["model"]["encoder.layers.1.self_attn.relative_attention_bias.weight"] += 1.0
    torch.save(checkpoint, unshared)
    with pytest.raises(CheckpointError, match=r"encoder.layers.1.self_attn.relative_attention_bias.weight differs"):
        load_pretrained(TINY_NAME, path=unshared)
    incomplete = tmp_path / "incomplete.pt"
    checkpoint = official_checkpoint(TINY)
    del checkpoint["model"]["encoder.pos_conv.0.weight_g"]
    torch.save(checkpoint, incomplete)
    with pytest.raises(CheckpointError, match=r"missing keys \(1\): encoder.pos_conv.0.weight_g"):
        load_pretrained(TINY_NAME, path=incomplete)


def test_load_official_checkpoint_builds_from_the_files_cfg(tmp_path):
    config = BEATsConfig.tiny(finetuned_model=True, predictor_class=4, layer_norm_first=True, deep_norm=False)
    path = tmp_path / "finetuned.pt"
    torch.save(official_checkpoint(config, label_dict=True), path)
    model = load_official_checkpoint(path)
    assert model.config == dataclasses.replace(config, tag_names=("/m/0000", "/m/0001", "/m/0002", "/m/0003"))
    assert model.tag_names == model.config.tag_names
    assert model.tag_logits(waveform(2, 8000)).shape == (2, 4)
    assert load_official_checkpoint(path, dropout=0.2).config.dropout == 0.2
    broken = official_checkpoint(config, label_dict=True)
    broken["cfg"]["encoder_attention_heads"] = 5
    torch.save(broken, path)
    with pytest.raises(CheckpointError, match=r"finetuned.pt: its cfg does not describe a BEATs this module builds"):
        load_official_checkpoint(path)
    broken = official_checkpoint(config, label_dict=True)
    del broken["label_dict"][3]
    torch.save(broken, path)
    with pytest.raises(CheckpointError, match=r"'label_dict' must map each index 0..3"):
        load_official_checkpoint(path)


# --------------------------------------------------------------------------------------------------
# Front-end and forward equations, against the official code's own computations


def test_frontend_equals_the_official_preprocessing(tiny_model):
    audio = waveform(2, 12345)
    official = torch.stack(
        [
            ta_kaldi.fbank(
                clip.unsqueeze(0) * 2**15, num_mel_bins=128, sample_frequency=16000, frame_length=25, frame_shift=10
            )
            for clip in audio
        ]
    )
    official = (official - 15.41663) / (2 * 6.55582)
    assert torch.equal(tiny_model.fbank_features(audio), official)


def reference_bucket(offset: int, num_buckets: int, max_distance: int) -> int:
    """T5's bidirectional relative position bucket, one offset at a time in double precision."""
    half = num_buckets // 2
    bucket, distance, max_exact = (half if offset > 0 else 0), abs(offset), half // 2
    if distance < max_exact:
        return bucket + distance
    scaled = int(math.log(distance / max_exact) / math.log(max_distance / max_exact) * (half - max_exact))
    return bucket + min(max_exact + scaled, half - 1)


@pytest.mark.parametrize(("num_buckets", "max_distance"), [(320, 800), (32, 64)])
def test_relative_position_bucket_matches_the_t5_formula(num_buckets, max_distance):
    offsets = torch.arange(-1500, 1501)
    expected = torch.tensor([reference_bucket(int(offset), num_buckets, max_distance) for offset in offsets])
    assert torch.equal(relative_position_bucket(offsets, num_buckets, max_distance), expected)


def official_attention(state, prefix, config, x, position_bias):
    """backbone.MultiheadAttention.forward as written: time-major, the factor-32 max-subtraction, bmm."""
    length, batch, width = x.shape
    heads = config.encoder_attention_heads
    head_dim, alpha = width // heads, 32
    scaling = head_dim**-0.5

    def linear(name, value):
        return F.linear(value, state[f"{prefix}{name}.weight"], state[f"{prefix}{name}.bias"])

    if config.relative_position_embedding and position_bias is None:
        buckets = torch.tensor(
            [[reference_bucket(key - query, config.num_buckets, config.max_distance) for key in range(length)]
             for query in range(length)]
        )  # fmt: skip
        values = state[f"{prefix}relative_attention_bias.weight"][buckets].permute(2, 0, 1)
        position_bias = values.unsqueeze(0).repeat(batch, 1, 1, 1).view(batch * heads, length, length)
    q = linear("q_proj", x) * scaling / alpha
    k, v = linear("k_proj", x), linear("v_proj", x)
    q = q.contiguous().view(length, batch * heads, head_dim).transpose(0, 1)
    k = k.contiguous().view(length, batch * heads, head_dim).transpose(0, 1)
    v = v.contiguous().view(length, batch * heads, head_dim).transpose(0, 1)
    weights = torch.bmm(q, k.transpose(1, 2))
    weights = (weights - weights.max(dim=-1, keepdim=True)[0]) * alpha
    if position_bias is not None:
        bias = position_bias
        if config.gru_rel_pos:
            query = q.view(batch, heads, length, head_dim) * alpha / scaling
            gates = torch.sigmoid(linear("grep_linear", query).view(batch, heads, length, 2, 4).sum(-1))
            gate_a, gate_b = gates.chunk(2, dim=-1)
            gate = gate_a * (gate_b * state[f"{prefix}grep_a"] - 1.0) + 2.0
            bias = gate.view(batch * heads, length, 1) * position_bias
        weights = weights + bias.view(weights.size())
    attended = torch.bmm(F.softmax(weights, dim=-1), v).transpose(0, 1).contiguous().view(length, batch, width)
    return linear("out_proj", attended), position_bias


def official_forward(state, config, fbank):
    """BEATs.extract_features after preprocess, from the official equations, on a state_dict."""
    width = config.encoder_embed_dim

    def layer_norm(name, value, size=width):
        return F.layer_norm(value, (size,), state[f"{name}.weight"], state[f"{name}.bias"])

    patches = F.conv2d(fbank.unsqueeze(1), state["patch_embedding.weight"], stride=config.input_patch_size)
    x = layer_norm("layer_norm", patches.reshape(*patches.shape[:2], -1).transpose(1, 2), config.embed_dim)
    x = F.linear(x, state["post_extract_proj.weight"], state["post_extract_proj.bias"])
    kernel = config.conv_pos
    weight = torch._weight_norm(state["encoder.pos_conv.0.weight_v"], state["encoder.pos_conv.0.weight_g"], 2)
    conv = F.conv1d(
        x.transpose(1, 2), weight, state["encoder.pos_conv.0.bias"], padding=kernel // 2, groups=config.conv_pos_groups
    )
    if kernel % 2 == 0:
        conv = conv[:, :, :-1]
    x = x + F.gelu(conv).transpose(1, 2)
    if not config.layer_norm_first:
        x = layer_norm("encoder.layer_norm", x)
    x = x.transpose(0, 1)
    alpha = (2 * config.encoder_layers) ** 0.25 if config.deep_norm else 1.0
    position_bias = None
    for index in range(config.encoder_layers):
        prefix = f"encoder.layers.{index}."

        def feed_forward(value):
            hidden = F.gelu(F.linear(value, state[f"{prefix}fc1.weight"], state[f"{prefix}fc1.bias"]))
            return F.linear(hidden, state[f"{prefix}fc2.weight"], state[f"{prefix}fc2.bias"])

        if config.layer_norm_first:
            attended, position_bias = official_attention(
                state, prefix + "self_attn.", config, layer_norm(prefix + "self_attn_layer_norm", x), position_bias
            )
            x = x + attended
            x = x + feed_forward(layer_norm(prefix + "final_layer_norm", x))
        else:
            attended, position_bias = official_attention(state, prefix + "self_attn.", config, x, position_bias)
            x = layer_norm(prefix + "self_attn_layer_norm", x * alpha + attended)
            x = layer_norm(prefix + "final_layer_norm", x * alpha + feed_forward(x))
    x = x.transpose(0, 1)
    return layer_norm("encoder.layer_norm", x) if config.layer_norm_first else x


@pytest.mark.parametrize(
    "config",
    [TINY, BEATsConfig.tiny(layer_norm_first=True, deep_norm=False, conv_pos=15)],
    ids=["post-norm-deep-norm", "pre-norm-odd-kernel"],
)
def test_forward_follows_the_official_equations(config):
    model = BEATs(config).eval()
    state = official_checkpoint(config, seed=3)["model"]
    model.load_state_dict(state)
    fbank = model.fbank_features(waveform(2, 16000))
    with torch.no_grad():
        tokens = model.encode_fbank(fbank)
    expected = official_forward(state, config, fbank)
    assert tokens.shape == (2, (98 // 16) * 8, 64)
    torch.testing.assert_close(tokens, expected, atol=2e-5, rtol=1e-4)


# --------------------------------------------------------------------------------------------------
# The Encoder interface


def test_forward_shapes_and_determinism(tiny_model):
    audio = waveform(3, 16000)
    with torch.no_grad():
        embedding = tiny_model.embed(audio)
        tokens, token_mask = tiny_model.token_features(audio)
        assert torch.equal(embedding, tiny_model.embed(audio))
        # Each clip is encoded on its own: batch composition does not change its embedding.
        torch.testing.assert_close(tiny_model.embed(audio[1:2]), embedding[1:2], atol=1e-6, rtol=1e-5)
    assert embedding.shape == (3, 64) and tokens.shape == (3, 48, 64) and token_mask is None
    assert torch.isfinite(embedding).all()
    torch.testing.assert_close(embedding, tokens.mean(dim=1))


def test_layers_in_one_pass_equal_separate_passes(tiny_model):
    audio = waveform(2, 12000)
    together = tiny_model.layers(audio)
    assert list(together) == ["layer1", "layer2"]
    for name in tiny_model.layer_names:
        assert torch.equal(tiny_model.layers(audio, [name])[name], together[name])
    # The embedding is the mean over tokens of the last layer (post-LayerNorm iter3+ layout).
    torch.testing.assert_close(tiny_model.embed(audio), together["layer2"].mean(dim=1))


def test_padding_mask_gives_the_embedding_of_the_unpadded_clip(tiny_model):
    short, full = waveform(1, 9000, seed=2)[0], waveform(1, 16000, seed=3)[0]
    # The padding is noise, not silence: the mask alone must keep it out.
    padded = torch.stack([torch.cat([short, waveform(1, 7000, seed=4)[0]]), full])
    padding_mask = torch.zeros(2, 16000, dtype=torch.bool)
    padding_mask[0, 9000:] = True
    with torch.no_grad():
        masked = tiny_model(padded, padding_mask)
        torch.testing.assert_close(masked[0], tiny_model.embed(short)[0], atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(masked[1], tiny_model.embed(full)[0], atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(tiny_model(padded[0], padding_mask[0]), masked[:1])  # one clip, 1-D mask
        no_padding = torch.zeros(2, 16000, dtype=torch.bool)
        torch.testing.assert_close(tiny_model(padded, no_padding), tiny_model.embed(padded))


def test_tag_logits_are_the_head_applied_to_the_mean_token():
    model = BEATs(BEATsConfig.tiny(finetuned_model=True, predictor_class=7)).eval()
    audio = waveform(2, 8000)
    with torch.no_grad():
        logits = model.tag_logits(audio)
        expected = model.predictor(model.embed(audio))  # the head is linear, so pooling commutes with it
    assert logits.shape == (2, 7)
    torch.testing.assert_close(logits, expected, atol=1e-5, rtol=1e-5)


def test_layer_wise_gradient_decay_scales_gradients_per_layer():
    torch.manual_seed(0)
    plain = BEATs(BEATsConfig.tiny(layer_wise_gradient_decay_ratio=1.0))
    decayed = BEATs(BEATsConfig.tiny(layer_wise_gradient_decay_ratio=0.5))
    decayed.load_state_dict(plain.state_dict())
    audio = waveform(2, 8000)
    for model in (plain, decayed):
        model.embed(audio).square().sum().backward()
    torch.testing.assert_close(plain(audio), decayed(audio))  # forward unchanged
    # Patch embedding is before both layers (0.5 ** 2); the last layer's own weights are after every scaling.
    torch.testing.assert_close(decayed.patch_embedding.weight.grad, 0.25 * plain.patch_embedding.weight.grad)
    torch.testing.assert_close(decayed.encoder.layers[1].fc2.weight.grad, plain.encoder.layers[1].fc2.weight.grad)


def test_input_errors(tiny_model):
    with pytest.raises(AudioError, match=r"needs at least 2800 samples \(0.175 s at 16000 Hz\).*got 2799"):
        tiny_model.embed(torch.zeros(1, 2799))
    with pytest.raises(AudioError, match=r"expects waveforms of shape \(batch, samples\)"):
        tiny_model.embed(torch.zeros(1, 1, 1, 16000))
    audio = waveform(2, 16000)
    with pytest.raises(AudioError, match=r"padding_mask must be a bool tensor of the waveform's shape \(2, 16000\)"):
        tiny_model(audio, torch.zeros(2, 16000))
    mostly_padding = torch.zeros(2, 16000, dtype=torch.bool)
    mostly_padding[1, 2000:] = True
    with pytest.raises(AudioError, match=r"clips \[1\] have fewer than 2800 unpadded samples"):
        tiny_model(audio, mostly_padding)
    with pytest.raises(ValueError, match="no tagging head"):
        tiny_model.tag_logits(audio)
