"""Notebook maintenance: only the compared summary cell keeps its output."""

import nbformat
from nbformat.v4 import new_code_cell, new_notebook, new_output

from workbench.notebooks import CHECK_MARK, strip_outputs
from workbench.paths import notebooks_dir


def test_strip_keeps_only_the_compared_cells_fresh_output():
    source = new_notebook(cells=[new_code_cell("x = 1", id="a"), new_code_cell(f"{CHECK_MARK}\nprint(x)", id="b")])
    executed = nbformat.v4.new_notebook(cells=[new_code_cell("x = 1", id="a"), new_code_cell(f"{CHECK_MARK}\nprint(x)", id="b")])
    executed.cells[0].outputs = [new_output("stream", name="stdout", text="noise")]
    executed.cells[1].outputs = [new_output("stream", name="stdout", text="1\n"), new_output("stream", name="stderr", text="warn")]
    strip_outputs(source, keep_from=executed)
    assert source.cells[0].outputs == [] and source.cells[0].execution_count is None
    assert [output.text for output in source.cells[1].outputs] == ["1\n"]


def test_committed_notebooks_follow_the_contract():
    """Parameters cell first, a compared summary cell, no stored outputs elsewhere, a python3 kernel."""
    for path in sorted(notebooks_dir().glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
        assert "parameters" in code_cells[0].metadata.get("tags", []), path.name
        compared = [cell for cell in code_cells if CHECK_MARK in cell.source]
        assert len(compared) == 1 and compared[0].outputs, f"{path.name}: one compared cell with stored output"
        assert all(not cell.outputs for cell in code_cells if cell is not compared[0]), path.name
        assert notebook.metadata["kernelspec"]["name"] == "python3"
        assert notebook.metadata["language_info"]["name"] == "python"


def _sanitized(text: str) -> str:
    import configparser
    import re
    from pathlib import Path

    config = configparser.ConfigParser()
    config.read(Path(__file__).with_name("nbval_sanitize.cfg"))
    for section in config.sections():
        text = re.sub(config[section]["regex"], config[section]["replace"], text)
    return text


def test_the_comparison_ignores_measured_figures_but_not_verdicts():
    """Figures vary with the machine's kernels; rows, tasks, paired-run counts and verdicts must not."""
    stored = ("  C CaRE-SEP: 5.2 | 13.2 | -0.4\nclaim C vs A: paper +1.1 dB (Table 2); measured 5.24 vs 5.14 dB; "
              "effect +0.100 [-0.040, +0.240], n=3 paired t, MDE 0.310 -> inconclusive\n")  # fmt: skip
    fresh = ("  C CaRE-SEP: 5.1 | 12.7 | 0.3\nclaim C vs A: paper +1.1 dB (Table 2); measured 5.08 vs 5.21 dB; "
             "effect -0.130 [-0.350, +0.090], n=3 paired t, MDE 0.420 -> inconclusive\n")  # fmt: skip
    assert _sanitized(stored) == _sanitized(fresh)
    assert _sanitized(stored) != _sanitized(stored.replace("-> inconclusive", "-> holds"))
    assert _sanitized(stored) != _sanitized(stored.replace("n=3", "n=1"))
    assert _sanitized("event: block3 0.72; 4 of 4 tasks") == _sanitized("event: block3 0.70; 3 of 4 tasks")
    assert _sanitized(stored) != _sanitized(stored.replace("C CaRE-SEP", "A ST-SED-SEP"))
    assert _sanitized("event: block3 0.72") != _sanitized("event: block4 0.72")


def test_which_of_several_close_variants_won_is_not_compared():
    stored = ("grid attention: best attention 0.46\nbest fusion: (e) combined 0.51 vs baseline 0.33\n"
              "claim concatenation: measured 41.2 % ((a) codecat) vs 32.5 % -> holds\n")  # fmt: skip
    fresh = ("grid attention: best attention heads 2 layers 1 0.48\nbest fusion: (d) attention 0.50 vs baseline 0.38\n"
             "claim concatenation: measured 40.0 % ((c) transform_concat) vs 38.0 % -> holds\n")  # fmt: skip
    assert _sanitized(stored) == _sanitized(fresh)
    assert _sanitized(stored) != _sanitized(stored.replace("claim concatenation", "claim attention"))
