-- RedefineTables
PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_TrainingRun" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "status" TEXT NOT NULL DEFAULT 'queued',
    "activeTrainingId" TEXT,
    "activeUserSlot" TEXT,
    "startedById" TEXT,
    "canceledById" TEXT,
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
    CONSTRAINT "TrainingRun_canceledById_fkey" FOREIGN KEY ("canceledById") REFERENCES "User" ("id") ON DELETE SET NULL ON UPDATE CASCADE,
    CONSTRAINT "TrainingRun_trainingId_fkey" FOREIGN KEY ("trainingId") REFERENCES "Training" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);
INSERT INTO "new_TrainingRun" ("activeTrainingId", "activeUserSlot", "agentTokenHash", "agentUrl", "costUsd", "createdAt", "error", "etaSeconds", "finishedAt", "gpuMinutes", "id", "instanceType", "lastContactAt", "lastMessageId", "lockedBy", "lockedUntil", "loss", "pricePerHour", "provider", "sampleKeys", "startedAt", "startedById", "status", "step", "totalSteps", "trainingId", "updatedAt", "weightsKey", "weightsSize") SELECT "activeTrainingId", "activeUserSlot", "agentTokenHash", "agentUrl", "costUsd", "createdAt", "error", "etaSeconds", "finishedAt", "gpuMinutes", "id", "instanceType", "lastContactAt", "lastMessageId", "lockedBy", "lockedUntil", "loss", "pricePerHour", "provider", "sampleKeys", "startedAt", "startedById", "status", "step", "totalSteps", "trainingId", "updatedAt", "weightsKey", "weightsSize" FROM "TrainingRun";
DROP TABLE "TrainingRun";
ALTER TABLE "new_TrainingRun" RENAME TO "TrainingRun";
CREATE UNIQUE INDEX "TrainingRun_activeTrainingId_key" ON "TrainingRun"("activeTrainingId");
CREATE UNIQUE INDEX "TrainingRun_activeUserSlot_key" ON "TrainingRun"("activeUserSlot");
CREATE INDEX "TrainingRun_trainingId_createdAt_idx" ON "TrainingRun"("trainingId", "createdAt");
CREATE INDEX "TrainingRun_status_idx" ON "TrainingRun"("status");
CREATE INDEX "TrainingRun_canceledById_idx" ON "TrainingRun"("canceledById");
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;
