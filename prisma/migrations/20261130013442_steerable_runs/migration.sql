-- CreateTable
CREATE TABLE "RunCheckpoint" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "step" INTEGER NOT NULL,
    "key" TEXT NOT NULL,
    "bytes" INTEGER NOT NULL,
    "final" BOOLEAN NOT NULL DEFAULT false,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "runId" TEXT NOT NULL,
    CONSTRAINT "RunCheckpoint_runId_fkey" FOREIGN KEY ("runId") REFERENCES "TrainingRun" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "RunSample" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "step" INTEGER NOT NULL,
    "prompt" INTEGER NOT NULL,
    "key" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "runId" TEXT NOT NULL,
    CONSTRAINT "RunSample_runId_fkey" FOREIGN KEY ("runId") REFERENCES "TrainingRun" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "RunEvent" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "kind" TEXT NOT NULL,
    "text" TEXT NOT NULL,
    "step" INTEGER,
    "at" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "runId" TEXT NOT NULL,
    CONSTRAINT "RunEvent_runId_fkey" FOREIGN KEY ("runId") REFERENCES "TrainingRun" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- RedefineTables
PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_Gpu" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "instanceId" TEXT NOT NULL,
    "provider" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "instanceType" TEXT,
    "pricePerHour" REAL,
    "launchedAt" DATETIME,
    "terminatedAt" DATETIME,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL,
    "trainingId" TEXT NOT NULL,
    "runId" TEXT,
    "formerRunId" TEXT,
    "spot" BOOLEAN NOT NULL DEFAULT false,
    "zone" TEXT,
    "subnetId" TEXT,
    "endReason" TEXT,
    CONSTRAINT "Gpu_trainingId_fkey" FOREIGN KEY ("trainingId") REFERENCES "Training" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "Gpu_runId_fkey" FOREIGN KEY ("runId") REFERENCES "TrainingRun" ("id") ON DELETE SET NULL ON UPDATE CASCADE,
    CONSTRAINT "Gpu_formerRunId_fkey" FOREIGN KEY ("formerRunId") REFERENCES "TrainingRun" ("id") ON DELETE SET NULL ON UPDATE CASCADE
);
INSERT INTO "new_Gpu" ("createdAt", "id", "instanceId", "instanceType", "launchedAt", "pricePerHour", "provider", "runId", "status", "terminatedAt", "trainingId", "updatedAt") SELECT "createdAt", "id", "instanceId", "instanceType", "launchedAt", "pricePerHour", "provider", "runId", "status", "terminatedAt", "trainingId", "updatedAt" FROM "Gpu";
DROP TABLE "Gpu";
ALTER TABLE "new_Gpu" RENAME TO "Gpu";
CREATE UNIQUE INDEX "Gpu_runId_key" ON "Gpu"("runId");
CREATE INDEX "Gpu_formerRunId_idx" ON "Gpu"("formerRunId");
CREATE INDEX "Gpu_trainingId_idx" ON "Gpu"("trainingId");
CREATE INDEX "Gpu_status_idx" ON "Gpu"("status");
CREATE INDEX "Gpu_createdAt_idx" ON "Gpu"("createdAt");
CREATE UNIQUE INDEX "Gpu_provider_instanceId_key" ON "Gpu"("provider", "instanceId");
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
    "lockedBy" TEXT,
    "lockedUntil" DATETIME,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL,
    "trainingId" TEXT NOT NULL,
    CONSTRAINT "TrainingRun_canceledById_fkey" FOREIGN KEY ("canceledById") REFERENCES "User" ("id") ON DELETE SET NULL ON UPDATE CASCADE,
    CONSTRAINT "TrainingRun_continuedFromId_fkey" FOREIGN KEY ("continuedFromId") REFERENCES "TrainingRun" ("id") ON DELETE SET NULL ON UPDATE CASCADE,
    CONSTRAINT "TrainingRun_trainingId_fkey" FOREIGN KEY ("trainingId") REFERENCES "Training" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);
INSERT INTO "new_TrainingRun" ("activeTrainingId", "activeUserSlot", "agentTokenHash", "agentUrl", "canceledById", "costUsd", "createdAt", "error", "errorDetail", "errorKind", "etaSeconds", "finishedAt", "gpuMinutes", "id", "instanceType", "lastContactAt", "lastMessageId", "lockedBy", "lockedUntil", "loss", "phases", "pricePerHour", "provider", "sampleKeys", "startedAt", "startedById", "status", "step", "totalSteps", "trainingId", "updatedAt", "weightsKey", "weightsSize") SELECT "activeTrainingId", "activeUserSlot", "agentTokenHash", "agentUrl", "canceledById", "costUsd", "createdAt", "error", "errorDetail", "errorKind", "etaSeconds", "finishedAt", "gpuMinutes", "id", "instanceType", "lastContactAt", "lastMessageId", "lockedBy", "lockedUntil", "loss", "phases", "pricePerHour", "provider", "sampleKeys", "startedAt", "startedById", "status", "step", "totalSteps", "trainingId", "updatedAt", "weightsKey", "weightsSize" FROM "TrainingRun";
DROP TABLE "TrainingRun";
ALTER TABLE "new_TrainingRun" RENAME TO "TrainingRun";
CREATE UNIQUE INDEX "TrainingRun_activeTrainingId_key" ON "TrainingRun"("activeTrainingId");
CREATE UNIQUE INDEX "TrainingRun_activeUserSlot_key" ON "TrainingRun"("activeUserSlot");
CREATE INDEX "TrainingRun_trainingId_createdAt_idx" ON "TrainingRun"("trainingId", "createdAt");
CREATE INDEX "TrainingRun_status_idx" ON "TrainingRun"("status");
CREATE INDEX "TrainingRun_canceledById_idx" ON "TrainingRun"("canceledById");
CREATE INDEX "TrainingRun_continuedFromId_idx" ON "TrainingRun"("continuedFromId");
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;

-- CreateIndex
CREATE UNIQUE INDEX "RunCheckpoint_runId_step_key" ON "RunCheckpoint"("runId", "step");

-- CreateIndex
CREATE UNIQUE INDEX "RunSample_runId_step_prompt_key" ON "RunSample"("runId", "step", "prompt");

-- CreateIndex
CREATE INDEX "RunEvent_runId_at_idx" ON "RunEvent"("runId", "at");
