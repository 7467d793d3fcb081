"""SDR and ablation tables, the Figure-3 panels, and the separation player."""

import numpy as np
import pytest
import torch

from workbench.viz.separation import (
    ablation_table_figure,
    embedding_panels_figure,
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
    figure = ablation_table_figure(TABLE, FLAGS, names={"G": "CaRE-SEP"})
    table = figure.data[0]
    assert list(table.header.values) == ["row", "what", "shared", "init", "grad", "mixture-SDR", "clean-SDR",
                                         "silence-SDR", "SDRi", "tagging mAP"]  # fmt: skip
    cells = [list(column) for column in table.cells.values]
    assert cells[0] == ["B", "G"] and cells[2] == ["✗", "✓"] and cells[4] == ["✗", "✓"]
    assert cells[5] == ["5.1 ± 0.3", "5.3 ± 0.3"] and cells[9] == ["0.93 ± 0.00", "0.75 ± 0.00"]
    with pytest.raises(ValueError, match=r"rows \['G'\] have no flags"):
        ablation_table_figure(TABLE, {"B": FLAGS["B"]})


def test_embedding_panels_one_subplot_per_model():
    rng = np.random.default_rng(0)
    panels = {row: (rng.normal(size=(12, 2)), np.repeat(np.arange(4), 3)) for row in ("B", "G")}
    names = ["query: bell", "query: gong", "separation: bell", "separation: gong"]
    figure = embedding_panels_figure(panels, names, kl={"G": {"query | separation: bell": 2.0, "query | separation: gong": 4.0}})
    assert len(figure.data) == 8 and [trace.name for trace in figure.data[:4]] == names
    assert [trace.showlegend for trace in figure.data] == [True] * 4 + [False] * 4
    assert figure.data[2].marker.symbol == "x" and figure.data[0].marker.color == figure.data[2].marker.color
    assert "KL query|separation 3" in figure.layout.annotations[1].text
    with pytest.raises(ValueError, match="four groups"):
        embedding_panels_figure(panels, names[:2])


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
    pair.value = 1
    query.value = 0  # class a is not in pair 1: the reference is silence
    assert calls[-1] == ("G", 0) and audio.children[2].children[0].value == "reference: silence"
    assert player.children[2].figure.layout.annotations[2].text == "reference: silence"
    with pytest.raises(ValueError, match="at least one pair and one model"):
        separation_player(separate, sources, classes, ["a", "b", "c"], 16000, [])
