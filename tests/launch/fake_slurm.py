"""A fake Slurm for the launcher's tests: ``sbatch``, ``sacct``, ``scontrol`` and ``scancel`` on PATH.

``sbatch SCRIPT`` records its arguments and script to ``$FAKE_SLURM_DIR/submissions.jsonl``, prints a job id,
and starts a detached runner that plays each array task as Slurm would: it waits for submitit to move the
task's pickle into place, then runs the script's ``python -u -m submitit.core._submit`` with the SLURM_*
variables of that task, writing the task's state (RUNNING, COMPLETED, FAILED) for ``sacct`` to report.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

STATE = Path(os.environ.get("FAKE_SLURM_DIR", "."))


def _sbatch(script_path: str) -> None:
    script = Path(script_path).read_text()
    counter = STATE / "next_id"
    job_id = int(counter.read_text()) if counter.is_file() else 1000
    counter.write_text(str(job_id + 1))
    with open(STATE / "submissions.jsonl", "a") as log:
        log.write(json.dumps({"job_id": job_id, "argv": sys.argv[1:], "script": script}) + "\n")
    array = re.search(r"^#SBATCH --array=0-(\d+)%(\d+)$", script, re.M)
    tasks = int(array.group(1)) + 1 if array else 0
    for task in range(max(tasks, 1)):
        (STATE / f"{job_id}_{task}.state" if tasks else STATE / f"{job_id}.state").write_text("PENDING")
    subprocess.Popen([sys.executable, __file__, "run", script_path, str(job_id), str(tasks)],
                     start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    print(f"Submitted batch job {job_id}")


def _run(script_path: str, job_id: str, tasks: str) -> None:
    script = Path(script_path).read_text()
    command = next(line for line in script.splitlines() if "submitit.core._submit" in line)
    folder_template = shlex.split(command)[-1]  # <folder>/%j
    output = re.search(r"^#SBATCH --output=(.+)$", script, re.M).group(1)
    error = re.search(r"^#SBATCH --error=(.+)$", script, re.M).group(1)
    for task in range(max(int(tasks), 1)):
        name = f"{job_id}_{task}" if int(tasks) else job_id
        pickle = Path(folder_template.replace("%j", name)) / f"{name}_submitted.pkl"
        deadline = time.time() + 60
        while not pickle.is_file() and time.time() < deadline:
            time.sleep(0.1)
        environment = {**os.environ, "SLURM_JOB_ID": str(int(job_id) + 100 + task), "SLURM_PROCID": "0",
                       "SLURM_NTASKS": "1", "SLURM_LOCALID": "0", "SLURM_NODEID": "0", "SLURM_JOB_NUM_NODES": "1",
                       "SLURM_JOB_NODELIST": "fake-node", "SUBMITIT_EXECUTOR": "slurm"}  # fmt: skip
        if int(tasks):
            environment.update(SLURM_ARRAY_JOB_ID=job_id, SLURM_ARRAY_TASK_ID=str(task))
        state = STATE / f"{name}.state"
        state.write_text("RUNNING")
        paths = [shlex.split(text)[0].replace("%A", job_id).replace("%a", str(task)).replace("%j", name)
                 for text in (output, error)]  # fmt: skip
        Path(paths[0]).parent.mkdir(parents=True, exist_ok=True)
        with open(paths[0], "a") as out, open(paths[1], "a") as err:
            finished = subprocess.run([sys.executable, "-u", "-m", "submitit.core._submit", folder_template],
                                      env=environment, stdout=out, stderr=err)  # fmt: skip
        state.write_text("COMPLETED" if finished.returncode == 0 else "FAILED")


def _sacct() -> None:
    print("JobID|State|NodeList")
    for state in sorted(STATE.glob("*.state")):
        print(f"{state.stem}|{state.read_text()}|fake-node")


def main() -> None:
    command = Path(sys.argv[0]).name
    if sys.argv[1:2] == ["run"]:
        _run(*sys.argv[2:5])
    elif command == "sbatch":
        _sbatch(sys.argv[-1])
    elif command == "sacct":
        _sacct()
    else:  # scontrol, scancel: recorded only
        with open(STATE / "other_commands.jsonl", "a") as log:
            log.write(json.dumps([command, *sys.argv[1:]]) + "\n")


if __name__ == "__main__":
    main()
