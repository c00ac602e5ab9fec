#!/usr/bin/env bash
# The study on a Slurm cluster: a job array of identical ichseg_reproduce workers that share one output folder
# on a shared filesystem (NFS, Lustre, GPFS). Slurm starts the workers; they take the study's units from the
# folder (claim files, leases; docs/study.md "Many workers"), so no unit runs twice, a worker lost with its node
# leaves its unit to another after the lease (300 s), which resumes from the unit's checkpoint, and the tables
# and figures are written once, when the last fold has finished. More workers than ready units simply wait;
# a worker started after the end finds nothing to do and exits 0.
#
#   ICHSEG_DATA=/shared/ich ICHSEG_OUT=/shared/runs/paper sbatch tools/slurm/reproduce_array.sh
#   ICHSEG_DATA=... ICHSEG_OUT=... sbatch --array=0-15 --partition=gpu tools/slurm/reproduce_array.sh
#   ICHSEG_PROFILE=quick ICHSEG_ARGS="--label-budget" ... sbatch --gres= --array=0-1 tools/slurm/reproduce_array.sh
#   ichseg_reproduce --plan --profile paper --data /shared/ich --out /shared/runs/paper   (progress, any node)
#
# Environment: ICHSEG_DATA, ICHSEG_OUT (required, on the shared filesystem); ICHSEG_PROFILE (default paper) or
# ICHSEG_CONFIG (a JSON config file); ICHSEG_REPRODUCE (the program; default: ichseg_reproduce on PATH);
# ICHSEG_DEVICE (default: cuda when Slurm gave this task a GPU, i.e. CUDA_VISIBLE_DEVICES is set, else auto);
# ICHSEG_ARGS (more options, e.g. "--label-budget", "--generate-phantoms", "--lease 600").
# The #SBATCH lines below are defaults: command-line options of sbatch override them. One GPU per task: Slurm
# sets CUDA_VISIBLE_DEVICES, so each worker's "cuda" is its own GPU. --requeue lets Slurm restart a task whose
# node failed; the restarted worker takes its unit back once the lease has expired.
#SBATCH --job-name=ichseg-study
#SBATCH --array=0-7
#SBATCH --ntasks=1
#SBATCH --cpus-per-task=8
#SBATCH --gres=gpu:1
#SBATCH --mem=48G
#SBATCH --time=2-00:00:00
#SBATCH --requeue
#SBATCH --output=ichseg-study-%A_%a.log
set -euo pipefail
: "${ICHSEG_DATA:?set ICHSEG_DATA to the dataset root (physionet/, segcq500/, rsna/, icm/)}"
: "${ICHSEG_OUT:?set ICHSEG_OUT to the shared output folder}"
exe="${ICHSEG_REPRODUCE:-ichseg_reproduce}"
args=(--worker --quiet --data "$ICHSEG_DATA" --out "$ICHSEG_OUT")
if [ -n "${ICHSEG_CONFIG:-}" ]; then
    args+=(--config "$ICHSEG_CONFIG")
else
    args+=(--profile "${ICHSEG_PROFILE:-paper}")
fi
if [ -n "${ICHSEG_DEVICE:-}" ]; then
    args+=(--device "$ICHSEG_DEVICE")
elif [ -n "${CUDA_VISIBLE_DEVICES:-}" ]; then
    args+=(--device cuda)
fi
if [ -n "${SLURM_CPUS_PER_TASK:-}" ]; then
    args+=(--threads "$SLURM_CPUS_PER_TASK")
fi
# shellcheck disable=SC2206  # ICHSEG_ARGS is a list of options, split on spaces on purpose
extra=(${ICHSEG_ARGS:-})
echo "ichseg worker: array task ${SLURM_ARRAY_TASK_ID:-?} of job ${SLURM_ARRAY_JOB_ID:-?} on $(hostname)"
exec srun --ntasks=1 --cpus-per-task="${SLURM_CPUS_PER_TASK:-1}" "$exe" "${args[@]}" "${extra[@]}"
