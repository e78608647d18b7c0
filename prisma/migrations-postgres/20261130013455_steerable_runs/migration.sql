-- AlterTable
ALTER TABLE "TrainingRun" ADD COLUMN     "chosenStep" INTEGER,
ADD COLUMN     "continuedFromId" TEXT,
ADD COLUMN     "interruptions" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "launchRetryAt" TIMESTAMP(3),
ADD COLUMN     "launchRounds" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "optimizerStep" INTEGER,
ADD COLUMN     "resumeStep" INTEGER,
ADD COLUMN     "spot" BOOLEAN NOT NULL DEFAULT false,
ADD COLUMN     "stepsOverride" INTEGER;

-- AlterTable
ALTER TABLE "Gpu" ADD COLUMN     "endReason" TEXT,
ADD COLUMN     "formerRunId" TEXT,
ADD COLUMN     "spot" BOOLEAN NOT NULL DEFAULT false,
ADD COLUMN     "subnetId" TEXT,
ADD COLUMN     "zone" TEXT;

-- CreateTable
CREATE TABLE "RunCheckpoint" (
    "id" TEXT NOT NULL,
    "step" INTEGER NOT NULL,
    "key" TEXT NOT NULL,
    "bytes" INTEGER NOT NULL,
    "final" BOOLEAN NOT NULL DEFAULT false,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "runId" TEXT NOT NULL,

    CONSTRAINT "RunCheckpoint_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "RunSample" (
    "id" TEXT NOT NULL,
    "step" INTEGER NOT NULL,
    "prompt" INTEGER NOT NULL,
    "key" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "runId" TEXT NOT NULL,

    CONSTRAINT "RunSample_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "RunEvent" (
    "id" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "text" TEXT NOT NULL,
    "step" INTEGER,
    "at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "runId" TEXT NOT NULL,

    CONSTRAINT "RunEvent_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "RunCheckpoint_runId_step_key" ON "RunCheckpoint"("runId", "step");

-- CreateIndex
CREATE UNIQUE INDEX "RunSample_runId_step_prompt_key" ON "RunSample"("runId", "step", "prompt");

-- CreateIndex
CREATE INDEX "RunEvent_runId_at_idx" ON "RunEvent"("runId", "at");

-- CreateIndex
CREATE INDEX "TrainingRun_continuedFromId_idx" ON "TrainingRun"("continuedFromId");

-- CreateIndex
CREATE INDEX "Gpu_formerRunId_idx" ON "Gpu"("formerRunId");

-- AddForeignKey
ALTER TABLE "TrainingRun" ADD CONSTRAINT "TrainingRun_continuedFromId_fkey" FOREIGN KEY ("continuedFromId") REFERENCES "TrainingRun"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Gpu" ADD CONSTRAINT "Gpu_formerRunId_fkey" FOREIGN KEY ("formerRunId") REFERENCES "TrainingRun"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "RunCheckpoint" ADD CONSTRAINT "RunCheckpoint_runId_fkey" FOREIGN KEY ("runId") REFERENCES "TrainingRun"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "RunSample" ADD CONSTRAINT "RunSample_runId_fkey" FOREIGN KEY ("runId") REFERENCES "TrainingRun"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "RunEvent" ADD CONSTRAINT "RunEvent_runId_fkey" FOREIGN KEY ("runId") REFERENCES "TrainingRun"("id") ON DELETE CASCADE ON UPDATE CASCADE;

