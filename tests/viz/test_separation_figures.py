"""SDR and ablation tables, the Figure-3 panels, and the separation player."""

import numpy as np
import pytest
import torch

from workbench.viz.separation import (
    _spectrogram_panels,
    ablation_table_figure,
    embedding_panels_figure,
    kl_markdown,
    markdown_table,
    sdr_table_figure,
    separation_player,
)

TABLE = {
    "B": {"mixture_sdr": (5.1, 0.3), "clean_sdr": (12.9, 0.4), "silence_sdr": (7.5, 0.2), "sdri": (5.1, 0.3), "map": (0.93, 0.0)},
    "G": {"mixture_sdr": (5.3, 0.3), "clean_sdr": (13.2, 0.4), "silence_sdr": (7.9, 0.2), "sdri": (5.3, 0.3), "map": (0.75, 0.0)},
}
FLAGS = {"B": {"shared": False, "init": True, "grad": False}, "G": {"shared": True, "init": True, "grad": True}}


def test_sdr_bars_one_trace_per_row_and_the_query_blind_line():
    figure = sdr_table_figure(TABLE, labels={"G": "G CaRE-SEP"}, query_blind=3.0)
    assert [trace.name for trace in figure.data] == ["B", "G CaRE-SEP"]
    assert list(figure.data[1].x) == ["mixture-SDR", "clean-SDR", "silence-SDR", "SDRi"]
    assert list(figure.data[0].y) == [5.1, 12.9, 7.5, 5.1] and list(figure.data[0].error_y.array) == [0.3, 0.4, 0.2, 0.3]
    assert figure.layout.shapes[0].y0 == 3.0
    with pytest.raises(ValueError, match="has no score"):
        sdr_table_figure({"B": {"mixture_sdr": (1.0, 0.0)}})


def test_ablation_table_lists_flags_and_scores():
    """The paper's Table 2 columns (Grad, Init, Shared encoder); the figure is as tall as its rows."""
    table = {**TABLE, "CLS": {**{m: (float("nan"), float("nan")) for m in TABLE["B"] if m != "map"}, "map": (0.8, 0.1)}}
    flags = {**FLAGS, "CLS": {"shared": True, "init": True, "grad": True}}
    figure = ablation_table_figure(table, flags, names={"G": "CaRE-SEP"})
    table_trace = figure.data[0]
    assert list(table_trace.header.values) == ["ID", "model", "Grad", "Init", "Shared encoder", "mixture-SDR",
                                               "clean-SDR", "silence-SDR", "SDRi", "tagging mAP"]  # fmt: skip
    cells = [list(column) for column in table_trace.cells.values]
    assert cells[0] == ["B", "G", "CLS"] and cells[2] == ["✗", "✓", "✓"] and cells[4] == ["✗", "✓", "✓"]
    assert cells[5] == ["5.1 ± 0.3", "5.3 ± 0.3", "-"] and cells[9] == ["0.93 ± 0.00", "0.75 ± 0.00", "0.80 ± 0.10"]
    assert figure.layout.height >= 34 + 3 * 30  # header and every row visible
    with pytest.raises(ValueError, match=r"rows \['G'\] have no flags"):
        ablation_table_figure(TABLE, {"B": FLAGS["B"]})


def test_embedding_panels_are_figure_3():
    """Rows A and C: (a) A separation, (b) A query, (c) C separation, (d) C query, each with its class KL."""
    rng = np.random.default_rng(0)
    classes = np.repeat([0, 1], 6)
    panels = {row: {kind: (rng.normal(size=(12, 2)), classes) for kind in ("separation", "query")} for row in "AC"}
    kl = {"A": {"separation: bell | gong": 4.34, "query: bell | gong": 10.37},
          "C": {"separation: bell | gong": 5.08, "query: bell | gong": 5.77, "query | separation: bell": 2.0,
                "query | separation: gong": 4.0}}  # fmt: skip
    figure = embedding_panels_figure(panels, ["bell", "gong"], kl=kl, labels={"A": "A ST-SED-SEP"})
    titles = [annotation.text for annotation in figure.layout.annotations]
    assert titles[0].startswith("(a) A ST-SED-SEP: separation feature") and "KL between classes 4.34" in titles[0]
    assert titles[1].startswith("(b) A ST-SED-SEP: query embedding") and "10.4" in titles[1]
    assert titles[3].startswith("(d) C: query embedding") and "5.77" in titles[3]
    assert "query vs separation 3" in titles[2]
    assert len(figure.data) == 8 and [trace.name for trace in figure.data[:2]] == ["bell", "gong"]
    assert [trace.showlegend for trace in figure.data] == [True, True] + [False] * 6
    with pytest.raises(ValueError, match="no embedding panels"):
        embedding_panels_figure({}, ["bell", "gong"])


def test_markdown_tables_escape_pipes():
    text = kl_markdown({"A": {"query: bell | gong": 1.5}}, labels={"A": "A ST-SED-SEP"})
    assert text.splitlines()[0] == "| row | query: bell \\| gong |"
    assert text.splitlines()[2] == "| A ST-SED-SEP | 1.5 |"
    with pytest.raises(ValueError, match="a row has 1 cells for 2 columns"):
        markdown_table(["a", "b"], [["x"]])


def test_spectrograms_share_one_scale_so_quiet_looks_quiet_and_silence_silent():
    loud, quiet = np.sin(np.arange(4000) * 0.3), 1e-3 * np.sin(np.arange(4000) * 0.3)
    figure = _spectrogram_panels([loud, quiet, np.zeros(4000)], ["mixture", "estimate", "reference: silence"], 16000)
    axis = figure.layout.coloraxis
    assert axis.cmax - axis.cmin == 80.0 and axis.colorbar.title.text == "dB"
    assert all(trace.coloraxis == "coloraxis" for trace in figure.data)  # one colour bar for all three
    mixture, estimate, silence = (np.asarray(trace.z) for trace in figure.data)
    assert mixture.max() == axis.cmax and estimate.max() < axis.cmax - 40
    assert silence.max() <= axis.cmin  # silence at the floor colour, not the top one
    assert figure.layout.xaxis.title.text == "time (s)" and figure.layout.yaxis.title.text == "mel band"


def test_ablation_rows_are_as_tall_as_their_wrapped_names():
    names = {"B": "768-d CaRE-SEP with a long descriptive name", "G": "G"}
    figure = ablation_table_figure(TABLE, FLAGS, names=names)
    column = list(figure.data[0].cells.values[1])
    assert column[0].count("<br>") >= 2 and "<br>" not in column[1]
    plain = ablation_table_figure(TABLE, FLAGS, names={"B": "B", "G": "G"})
    assert figure.layout.height - plain.layout.height >= 20 * column[0].count("<br>")


def test_player_separates_on_every_choice():
    sources = torch.stack([torch.randn(2, 4000) * 0.05 for _ in range(3)])
    classes = np.array([[0, 1], [1, 2], [2, 0]])
    calls = []

    def separate(row, mixture, query_class):
        calls.append((row, query_class))
        return mixture * (0.5 if row == "B" else 0.25)

    player = separation_player(separate, sources, classes, ["a", "b", "c"], 16000, ["B", "G"])
    pair, query, model = player.children[0].children
    audio = player.children[1]
    assert calls == [("B", 0)]
    before = audio.children[1].children[1].value
    model.value = "G"
    assert calls[-1] == ("G", 0) and audio.children[1].children[1].value != before
    pair.value = 1  # another mixture: the query resets to the class of its first source
    assert query.value == 1 and calls[-1] == ("G", 1)
    query.value = 0  # class a is not in pair 1: the reference is silence
    assert calls[-1] == ("G", 0) and audio.children[2].children[0].value == "reference: silence"
    assert [box.children[2].value for box in audio.children] == ["0.25 s"] * 3  # 4000 samples at 16 kHz
    assert player.children[2].figure.layout.annotations[2].text == "reference: silence"
    with pytest.raises(ValueError, match="at least one pair and one model"):
        separation_player(separate, sources, classes, ["a", "b", "c"], 16000, [])


def test_measured_labels_name_the_query_width_the_system_has():
    from types import SimpleNamespace

    from workbench.viz.separation import measured_labels

    system = SimpleNamespace(query_model=SimpleNamespace(embedding_dim=128))  # a property of SeparationSystem
    result = SimpleNamespace(labels=lambda: {"A": "A 2048-d ST-SED-SEP", "C": "C 768-d CaRE-SEP", "B": "B w/ Grad"},
                             systems={"A": system, "C": system, "B": system})  # fmt: skip
    assert measured_labels(result) == {"A": "A 128-d ST-SED-SEP", "C": "C 128-d CaRE-SEP", "B": "B w/ Grad"}
