"""Jupyter notebooks: each cell's text on the JSON line that holds it, cells read as one Markdown document."""

from __future__ import annotations

import json

from citebot.index.formats import line_structure
from citebot.index.notebook import is_notebook, notebook_structure
from citebot.index.structure import PLAIN

# A notebook as Jupyter writes it (json.dumps(indent=1, ensure_ascii=False)); line numbers are the file's.
NOTEBOOK = [
    "{",                                                      # 1
    ' "cells": [',                                            # 2
    "  {",                                                    # 3
    '   "cell_type": "markdown",',                            # 4
    '   "metadata": {},',                                     # 5
    '   "source": [',                                         # 6
    '    "# Crane tutorial\\n",',                             # 7  a heading for the cells below
    '    "\\n",',                                             # 8
    '    "Install the crane with pip."',                      # 9
    "   ]",                                                   # 10
    "  },",                                                   # 11
    "  {",                                                    # 12
    '   "cell_type": "code",',                                # 13
    '   "execution_count": 1,',                               # 14
    '   "metadata": {},',                                     # 15
    '   "outputs": [',                                        # 16
    "    {",                                                  # 17
    '     "name": "stdout",',                                 # 18
    '     "output_type": "stream",',                          # 19
    '     "text": [',                                         # 20
    '      "def lift(c):\\n"',                                # 21 an output repeating a source line
    "     ]",                                                 # 22
    "    }",                                                  # 23
    "   ],",                                                  # 24
    '   "source": [',                                         # 25
    '    "import crane\\n",',                                 # 26 code
    '    "\\n",',                                             # 27
    '    "def lift(c):\\n",',                                 # 28
    '    "    c.hoist(load=2)"',                              # 29 indentation kept
    "   ]",                                                   # 30
    "  },",                                                   # 31
    "  {",                                                    # 32
    '   "cell_type": "markdown",',                            # 33
    '   "metadata": {},',                                     # 34
    '   "source": [',                                         # 35
    '    "## Safety\\n",',                                    # 36
    '    "Check the [wind speed](limits.md) first, café rules."',  # 37
    "   ]",                                                   # 38
    "  },",                                                   # 39
    "  {",                                                    # 40
    '   "cell_type": "raw",',                                 # 41
    '   "metadata": {},',                                     # 42
    '   "source": "raw text"',                                # 43 a raw cell: never seen
    "  }",                                                    # 44
    " ],",                                                    # 45
    ' "metadata": {"kernelspec": {"language": "python", "name": "python3"}},',  # 46
    ' "nbformat": 4,',                                        # 47
    ' "nbformat_minor": 5',                                   # 48
    "}",                                                      # 49
]


def test_cells_are_read_on_their_own_lines() -> None:
    assert is_notebook("docs/Tutorial.IPYNB") and not is_notebook("a.json")
    infos = line_structure("tutorial.ipynb", NOTEBOOK)
    shown = {k + 1: i.text for k, i in enumerate(infos) if i.text}
    assert shown == {7: "# Crane tutorial", 9: "Install the crane with pip.", 26: "import crane", 28: "def lift(c):",
                     29: "    c.hoist(load=2)", 36: "## Safety", 37: "Check the wind speed first, café rules."}
    assert [k + 1 for k, i in enumerate(infos) if i.is_heading] == [7, 36]
    assert {k + 1 for k, i in enumerate(infos) if i.code_block is not None} == {26, 27, 28, 29}
    assert infos[28].heading == "Crane tutorial" and infos[36].heading == "Crane tutorial > Safety"
    assert not any(infos[k].markup for k in (8, 25, 28, 36)), "cell text is prose or code, never markup"


def test_escaped_and_one_string_sources_are_placed_too() -> None:
    nb = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": "Caf\u00e9 cranes lift."},
                    {"cell_type": "code", "metadata": {}, "outputs": [], "source": ["x = 'é'\n", "print(x)"]}],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    lines = json.dumps(nb, indent=2).split("\n")  # ensure_ascii: "\u00e9"
    shown = [i.text for i in notebook_structure(lines) if i.text]
    assert shown == ["Café cranes lift.", "x = 'é'", "print(x)"]


def test_what_is_not_a_notebook_is_plain() -> None:
    for lines in (["{not json"], ['{"cells": 3}'], ['{"cells": [{"source": ["a\\nb"]}]}'], ["[1, 2]"]):
        assert notebook_structure(lines) == [PLAIN] * len(lines)
    minified = [json.dumps({"cells": [{"cell_type": "markdown", "source": ["# A\n", "b"]}]})]
    assert notebook_structure(minified) == [PLAIN], "two source lines on one file line: not placed, plain"
