-- AlterTable
ALTER TABLE "TrainingImage" ADD COLUMN "captionRunId" TEXT;
ALTER TABLE "TrainingImage" ADD COLUMN "captionSource" TEXT;

-- CreateTable
CREATE TABLE "CaptionChange" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "before" TEXT,
    "after" TEXT,
    "status" TEXT NOT NULL DEFAULT 'waiting',
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL,
    "runId" TEXT NOT NULL,
    "imageId" TEXT NOT NULL,
    CONSTRAINT "CaptionChange_runId_fkey" FOREIGN KEY ("runId") REFERENCES "TrainingRun" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "CaptionChange_imageId_fkey" FOREIGN KEY ("imageId") REFERENCES "TrainingImage" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- RedefineTables
PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_TrainingRun" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "kind" TEXT NOT NULL DEFAULT 'train',
    "captionOptions" TEXT,
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
    "errorKind" TEXT,
    "errorDetail" TEXT,
    "phases" TEXT,
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
    "chosenStep" INTEGER,
    "optimizerStep" INTEGER,
    "continuedFromId" TEXT,
    "continuedFromStep" INTEGER,
    "stepsOverride" INTEGER,
    "resumeStep" INTEGER,
    "spot" BOOLEAN NOT NULL DEFAULT false,
    "interruptions" INTEGER NOT NULL DEFAULT 0,
    "launchRounds" INTEGER NOT NULL DEFAULT 0,
    "launchRetryAt" DATETIME,
    "startedAt" DATETIME,
    "finishedAt" DATETIME,
    "gpuMinutes" REAL,
    "costUsd" REAL,
    "estimate" TEXT,
    "estimatedSeconds" INTEGER,
    "estimatedCostUsd" REAL,
    "notifiedAt" DATETIME,
    "lockedBy" TEXT,
    "lockedUntil" DATETIME,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL,
    "trainingId" TEXT NOT NULL,
    CONSTRAINT "TrainingRun_canceledById_fkey" FOREIGN KEY ("canceledById") REFERENCES "User" ("id") ON DELETE SET NULL ON UPDATE CASCADE,
    CONSTRAINT "TrainingRun_continuedFromId_fkey" FOREIGN KEY ("continuedFromId") REFERENCES "TrainingRun" ("id") ON DELETE SET NULL ON UPDATE CASCADE,
    CONSTRAINT "TrainingRun_trainingId_fkey" FOREIGN KEY ("trainingId") REFERENCES "Training" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);
INSERT INTO "new_TrainingRun" ("activeTrainingId", "activeUserSlot", "agentTokenHash", "agentUrl", "canceledById", "chosenStep", "continuedFromId", "continuedFromStep", "costUsd", "createdAt", "error", "errorDetail", "errorKind", "estimate", "estimatedCostUsd", "estimatedSeconds", "etaSeconds", "finishedAt", "gpuMinutes", "id", "instanceType", "interruptions", "lastContactAt", "lastMessageId", "launchRetryAt", "launchRounds", "lockedBy", "lockedUntil", "loss", "notifiedAt", "optimizerStep", "phases", "pricePerHour", "provider", "resumeStep", "sampleKeys", "spot", "startedAt", "startedById", "status", "step", "stepsOverride", "totalSteps", "trainingId", "updatedAt", "weightsKey", "weightsSize") SELECT "activeTrainingId", "activeUserSlot", "agentTokenHash", "agentUrl", "canceledById", "chosenStep", "continuedFromId", "continuedFromStep", "costUsd", "createdAt", "error", "errorDetail", "errorKind", "estimate", "estimatedCostUsd", "estimatedSeconds", "etaSeconds", "finishedAt", "gpuMinutes", "id", "instanceType", "interruptions", "lastContactAt", "lastMessageId", "launchRetryAt", "launchRounds", "lockedBy", "lockedUntil", "loss", "notifiedAt", "optimizerStep", "phases", "pricePerHour", "provider", "resumeStep", "sampleKeys", "spot", "startedAt", "startedById", "status", "step", "stepsOverride", "totalSteps", "trainingId", "updatedAt", "weightsKey", "weightsSize" FROM "TrainingRun";
DROP TABLE "TrainingRun";
ALTER TABLE "new_TrainingRun" RENAME TO "TrainingRun";
CREATE UNIQUE INDEX "TrainingRun_activeTrainingId_key" ON "TrainingRun"("activeTrainingId");
CREATE UNIQUE INDEX "TrainingRun_activeUserSlot_key" ON "TrainingRun"("activeUserSlot");
CREATE INDEX "TrainingRun_trainingId_createdAt_idx" ON "TrainingRun"("trainingId", "createdAt");
CREATE INDEX "TrainingRun_status_idx" ON "TrainingRun"("status");
CREATE INDEX "TrainingRun_canceledById_idx" ON "TrainingRun"("canceledById");
CREATE INDEX "TrainingRun_continuedFromId_idx" ON "TrainingRun"("continuedFromId");
CREATE INDEX "TrainingRun_notifiedAt_finishedAt_idx" ON "TrainingRun"("notifiedAt", "finishedAt");
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;

-- CreateIndex
CREATE INDEX "CaptionChange_imageId_idx" ON "CaptionChange"("imageId");

-- CreateIndex
CREATE UNIQUE INDEX "CaptionChange_runId_imageId_key" ON "CaptionChange"("runId", "imageId");
