#!/usr/bin/env bash
# placeholder until the Slurm tests land
echo "skipped: Slurm tests not written yet"
exit 77
