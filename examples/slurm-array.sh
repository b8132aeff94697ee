#!/usr/bin/env bash
# Rectify a folder tree on a Slurm cluster, one array task per shard:
#
#   sbatch examples/slurm-array.sh                 # all N tasks
#   sbatch --array=7 examples/slurm-array.sh       # rerun task 7 alone
#
# Task I runs `stn rectify … --shard I/N`: the files whose relative path
# hashes to I mod N. Together the N tasks write exactly what one
# `stn rectify "$INPUT" -o "$OUTPUT"` would, with no coordination. N is
# written twice, in --array=0-(N-1) and in SHARDS below: keep them equal (a
# throttle such as --array=0-15%4 is fine). N is not taken from Slurm's
# array size, which is 1 when a single task is resubmitted.
#
# A rerun task resumes: --skip-existing keeps the outputs it finished. A run
# writes its --thetas file when it ends, listing the files it wrote in that
# run; to get every theta of a task that crashed, rerun it with --overwrite
# instead (same bytes, whole shard). Merge the thetas afterwards with
# `cat thetas.*.jsonl > thetas.jsonl`.
#
# SHARDS, INPUT, OUTPUT and STN may be set in the environment (sbatch --export).
#SBATCH --job-name=stn-rectify
#SBATCH --array=0-15
#SBATCH --cpus-per-task=4
#SBATCH --mem=4G
#SBATCH --time=02:00:00
#SBATCH --output=stn-rectify-%A_%a.log
set -euo pipefail

SHARDS=${SHARDS:-16}
STN=${STN:-stn}
INPUT=${INPUT:-/shared/scans}
OUTPUT=${OUTPUT:-/shared/rectified}
I=$SLURM_ARRAY_TASK_ID
N=$SHARDS

"$STN" -j "${SLURM_CPUS_PER_TASK:-1}" rectify "$INPUT" -o "$OUTPUT" \
  --shard "$I/$N" --skip-existing --quiet \
  --thetas "thetas.$I.jsonl"
