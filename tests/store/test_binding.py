"""Binding a query parameter does not import pandas, and pandas values still bind once pandas is imported."""

from __future__ import annotations

import json
import subprocess
import sys


def _run(code: str) -> dict:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_store_binds_every_kind_of_value_without_importing_pandas_then_binds_pandas_nat():
    out = _run(
        "import datetime, decimal, json, sys\n"
        "from policy_store import PolicyStore\n"
        "with PolicyStore.memory() as s:\n"
        "    row = s.execute('SELECT ?, ?, ?, ?, ?, ?, ?', [1, 'a', 2.5, None, True, [1, 2],\n"
        "                    datetime.date(2026, 1, 2)]).fetchone()\n"
        "    named = s.execute('SELECT $x', {'x': decimal.Decimal('1.5')}).fetchone()[0]\n"
        "    before = 'pandas' in sys.modules\n"
        "    import pandas as pd\n"
        "    nat = s.execute('SELECT ?', [pd.NaT]).fetchone()[0]\n"
        "print(json.dumps({'row': [str(v) for v in row], 'named': str(named), 'before': before, 'nat': nat,\n"
        "                  'hidden_left': sys.modules.get('pandas') is None}))\n"
    )
    assert out == {"row": ["1", "a", "2.5", "None", "True", "[1, 2]", "2026-01-02"], "named": "1.5",
                   "before": False, "nat": None, "hidden_left": False}


def test_with_another_thread_alive_pandas_is_imported_as_usual():
    # sys.modules is shared and no lock guards the check that would fail another thread's import, so the store
    # only hides pandas from DuckDB's binding while the process has one Python thread
    out = _run(
        "import json, sys, threading\n"
        "from policy_store import PolicyStore\n"
        "stop = threading.Event()\n"
        "other = threading.Thread(target=stop.wait)\n"
        "other.start()\n"
        "with PolicyStore.memory() as s:\n"
        "    s.execute('SELECT ?', [1]).fetchone()\n"
        "    imported = sys.modules.get('pandas') is not None\n"
        "stop.set()\n"
        "print(json.dumps({'imported': imported}))\n"
    )
    assert out == {"imported": True}
