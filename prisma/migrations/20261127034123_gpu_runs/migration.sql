-- AlterTable
ALTER TABLE "Gpu" ADD COLUMN "instanceType" TEXT;
ALTER TABLE "Gpu" ADD COLUMN "launchedAt" DATETIME;
ALTER TABLE "Gpu" ADD COLUMN "pricePerHour" REAL;
ALTER TABLE "Gpu" ADD COLUMN "terminatedAt" DATETIME;

-- RedefineTables
PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_TrainingRun" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "status" TEXT NOT NULL DEFAULT 'queued',
    "activeTrainingId" TEXT,
    "activeUserSlot" TEXT,
    "startedById" TEXT,
    "step" INTEGER,
    "totalSteps" INTEGER,
    "loss" REAL,
    "etaSeconds" INTEGER,
    "error" TEXT,
    "provider" TEXT,
    "instanceType" TEXT,
    "pricePerHour" REAL,
    "agentUrl" TEXT,
    "agentTokenHash" TEXT,
    "lastMessageId" INTEGER NOT NULL DEFAULT 0,
    "lastContactAt" DATETIME,
    "weightsKey" TEXT,
    "weightsSize" INTEGER,
    "sampleKeys" TEXT,
    "startedAt" DATETIME,
    "finishedAt" DATETIME,
    "gpuMinutes" REAL,
    "costUsd" REAL,
    "lockedBy" TEXT,
    "lockedUntil" DATETIME,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL,
    "trainingId" TEXT NOT NULL,
    CONSTRAINT "TrainingRun_trainingId_fkey" FOREIGN KEY ("trainingId") REFERENCES "Training" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);
INSERT INTO "new_TrainingRun" ("createdAt", "id", "status", "trainingId", "updatedAt") SELECT "createdAt", "id", "status", "trainingId", "updatedAt" FROM "TrainingRun";
DROP TABLE "TrainingRun";
ALTER TABLE "new_TrainingRun" RENAME TO "TrainingRun";
CREATE UNIQUE INDEX "TrainingRun_activeTrainingId_key" ON "TrainingRun"("activeTrainingId");
CREATE UNIQUE INDEX "TrainingRun_activeUserSlot_key" ON "TrainingRun"("activeUserSlot");
CREATE INDEX "TrainingRun_trainingId_createdAt_idx" ON "TrainingRun"("trainingId", "createdAt");
CREATE INDEX "TrainingRun_status_idx" ON "TrainingRun"("status");
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;

-- CreateIndex
CREATE INDEX "Gpu_status_idx" ON "Gpu"("status");

-- CreateIndex
CREATE INDEX "Gpu_createdAt_idx" ON "Gpu"("createdAt");
