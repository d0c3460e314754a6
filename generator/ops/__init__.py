"""Operations on a deployed stack: `backup` and `restore` (this package) and `report` (generator/report/).

`archive` writes and validates the backup file, `progress` shows long copies, `backup` and `restore`
drive them. What touches the runtime (a component's data, pausing it, Docker volumes) is in
generator/runtimes/data.py: only generator/runtimes/ talks to Docker or to processes.
"""
