-- Trainyard on PostgreSQL: the whole schema as of issue 5 (the SQLite migrations 20261127000000_init,
-- 20261127020000_training_image_variants and 20261127034123_gpu_runs together), written by
-- scripts/db/new-postgres-migration.ts, plus the seed rows of the SQLite init migration.

-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "public";

-- CreateTable
CREATE TABLE "User" (
    "id" TEXT NOT NULL,
    "email" TEXT NOT NULL,
    "name" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "User_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Password" (
    "hash" TEXT NOT NULL,
    "userId" TEXT NOT NULL
);

-- CreateTable
CREATE TABLE "Session" (
    "id" TEXT NOT NULL,
    "expirationDate" TIMESTAMP(3) NOT NULL,
    "userAgent" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,
    "userId" TEXT NOT NULL,

    CONSTRAINT "Session_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Permission" (
    "id" TEXT NOT NULL,
    "action" TEXT NOT NULL,
    "entity" TEXT NOT NULL,
    "access" TEXT NOT NULL,
    "description" TEXT NOT NULL DEFAULT '',
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Permission_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Role" (
    "id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "description" TEXT NOT NULL DEFAULT '',
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Role_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Verification" (
    "id" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "type" TEXT NOT NULL,
    "target" TEXT NOT NULL,
    "secret" TEXT NOT NULL,
    "algorithm" TEXT NOT NULL,
    "digits" INTEGER NOT NULL,
    "period" INTEGER NOT NULL,
    "charSet" TEXT NOT NULL,
    "expiresAt" TIMESTAMP(3),
    "attempts" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "Verification_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Connection" (
    "id" TEXT NOT NULL,
    "providerName" TEXT NOT NULL,
    "providerId" TEXT NOT NULL,
    "providerDisplayName" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,
    "userId" TEXT NOT NULL,

    CONSTRAINT "Connection_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Training" (
    "id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "triggerWord" TEXT NOT NULL,
    "baseModel" TEXT NOT NULL,
    "config" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,
    "ownerId" TEXT NOT NULL,

    CONSTRAINT "Training_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "TrainingImage" (
    "id" TEXT NOT NULL,
    "url" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "text" TEXT,
    "isResized" BOOLEAN NOT NULL DEFAULT false,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,
    "originalKey" TEXT,
    "thumbnailKey" TEXT,
    "width" INTEGER,
    "height" INTEGER,
    "size" INTEGER,
    "hash" TEXT,
    "trainingId" TEXT NOT NULL,

    CONSTRAINT "TrainingImage_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "TrainingRun" (
    "id" TEXT NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'queued',
    "activeTrainingId" TEXT,
    "activeUserSlot" TEXT,
    "startedById" TEXT,
    "step" INTEGER,
    "totalSteps" INTEGER,
    "loss" DOUBLE PRECISION,
    "etaSeconds" INTEGER,
    "error" TEXT,
    "provider" TEXT,
    "instanceType" TEXT,
    "pricePerHour" DOUBLE PRECISION,
    "agentUrl" TEXT,
    "agentTokenHash" TEXT,
    "lastMessageId" INTEGER NOT NULL DEFAULT 0,
    "lastContactAt" TIMESTAMP(3),
    "weightsKey" TEXT,
    "weightsSize" INTEGER,
    "sampleKeys" TEXT,
    "startedAt" TIMESTAMP(3),
    "finishedAt" TIMESTAMP(3),
    "gpuMinutes" DOUBLE PRECISION,
    "costUsd" DOUBLE PRECISION,
    "lockedBy" TEXT,
    "lockedUntil" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,
    "trainingId" TEXT NOT NULL,

    CONSTRAINT "TrainingRun_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "TrainingStatus" (
    "id" TEXT NOT NULL,
    "messageId" INTEGER NOT NULL,
    "status" TEXT NOT NULL,
    "step" INTEGER,
    "totalSteps" INTEGER,
    "loss" DOUBLE PRECISION,
    "text" TEXT,
    "at" TIMESTAMP(3) NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "runId" TEXT NOT NULL,

    CONSTRAINT "TrainingStatus_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Gpu" (
    "id" TEXT NOT NULL,
    "instanceId" TEXT NOT NULL,
    "provider" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "instanceType" TEXT,
    "pricePerHour" DOUBLE PRECISION,
    "launchedAt" TIMESTAMP(3),
    "terminatedAt" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,
    "trainingId" TEXT NOT NULL,
    "runId" TEXT,

    CONSTRAINT "Gpu_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "_PermissionToRole" (
    "A" TEXT NOT NULL,
    "B" TEXT NOT NULL,

    CONSTRAINT "_PermissionToRole_AB_pkey" PRIMARY KEY ("A","B")
);

-- CreateTable
CREATE TABLE "_RoleToUser" (
    "A" TEXT NOT NULL,
    "B" TEXT NOT NULL,

    CONSTRAINT "_RoleToUser_AB_pkey" PRIMARY KEY ("A","B")
);

-- CreateIndex
CREATE UNIQUE INDEX "User_email_key" ON "User"("email");

-- CreateIndex
CREATE UNIQUE INDEX "Password_userId_key" ON "Password"("userId");

-- CreateIndex
CREATE INDEX "Session_userId_idx" ON "Session"("userId");

-- CreateIndex
CREATE INDEX "Session_expirationDate_idx" ON "Session"("expirationDate");

-- CreateIndex
CREATE UNIQUE INDEX "Permission_action_entity_access_key" ON "Permission"("action", "entity", "access");

-- CreateIndex
CREATE UNIQUE INDEX "Role_name_key" ON "Role"("name");

-- CreateIndex
CREATE UNIQUE INDEX "Verification_target_type_key" ON "Verification"("target", "type");

-- CreateIndex
CREATE INDEX "Connection_userId_idx" ON "Connection"("userId");

-- CreateIndex
CREATE UNIQUE INDEX "Connection_providerName_providerId_key" ON "Connection"("providerName", "providerId");

-- CreateIndex
CREATE INDEX "Training_ownerId_updatedAt_idx" ON "Training"("ownerId", "updatedAt");

-- CreateIndex
CREATE INDEX "Training_updatedAt_idx" ON "Training"("updatedAt");

-- CreateIndex
CREATE INDEX "TrainingImage_trainingId_createdAt_idx" ON "TrainingImage"("trainingId", "createdAt");

-- CreateIndex
CREATE INDEX "TrainingImage_trainingId_hash_idx" ON "TrainingImage"("trainingId", "hash");

-- CreateIndex
CREATE UNIQUE INDEX "TrainingRun_activeTrainingId_key" ON "TrainingRun"("activeTrainingId");

-- CreateIndex
CREATE UNIQUE INDEX "TrainingRun_activeUserSlot_key" ON "TrainingRun"("activeUserSlot");

-- CreateIndex
CREATE INDEX "TrainingRun_trainingId_createdAt_idx" ON "TrainingRun"("trainingId", "createdAt");

-- CreateIndex
CREATE INDEX "TrainingRun_status_idx" ON "TrainingRun"("status");

-- CreateIndex
CREATE UNIQUE INDEX "TrainingStatus_runId_messageId_key" ON "TrainingStatus"("runId", "messageId");

-- CreateIndex
CREATE UNIQUE INDEX "Gpu_runId_key" ON "Gpu"("runId");

-- CreateIndex
CREATE INDEX "Gpu_trainingId_idx" ON "Gpu"("trainingId");

-- CreateIndex
CREATE INDEX "Gpu_status_idx" ON "Gpu"("status");

-- CreateIndex
CREATE INDEX "Gpu_createdAt_idx" ON "Gpu"("createdAt");

-- CreateIndex
CREATE UNIQUE INDEX "Gpu_provider_instanceId_key" ON "Gpu"("provider", "instanceId");

-- CreateIndex
CREATE INDEX "_PermissionToRole_B_index" ON "_PermissionToRole"("B");

-- CreateIndex
CREATE INDEX "_RoleToUser_B_index" ON "_RoleToUser"("B");

-- AddForeignKey
ALTER TABLE "Password" ADD CONSTRAINT "Password_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Session" ADD CONSTRAINT "Session_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Connection" ADD CONSTRAINT "Connection_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Training" ADD CONSTRAINT "Training_ownerId_fkey" FOREIGN KEY ("ownerId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "TrainingImage" ADD CONSTRAINT "TrainingImage_trainingId_fkey" FOREIGN KEY ("trainingId") REFERENCES "Training"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "TrainingRun" ADD CONSTRAINT "TrainingRun_trainingId_fkey" FOREIGN KEY ("trainingId") REFERENCES "Training"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "TrainingStatus" ADD CONSTRAINT "TrainingStatus_runId_fkey" FOREIGN KEY ("runId") REFERENCES "TrainingRun"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Gpu" ADD CONSTRAINT "Gpu_trainingId_fkey" FOREIGN KEY ("trainingId") REFERENCES "Training"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Gpu" ADD CONSTRAINT "Gpu_runId_fkey" FOREIGN KEY ("runId") REFERENCES "TrainingRun"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "_PermissionToRole" ADD CONSTRAINT "_PermissionToRole_A_fkey" FOREIGN KEY ("A") REFERENCES "Permission"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "_PermissionToRole" ADD CONSTRAINT "_PermissionToRole_B_fkey" FOREIGN KEY ("B") REFERENCES "Role"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "_RoleToUser" ADD CONSTRAINT "_RoleToUser_A_fkey" FOREIGN KEY ("A") REFERENCES "Role"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "_RoleToUser" ADD CONSTRAINT "_RoleToUser_B_fkey" FOREIGN KEY ("B") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Seed rows that every database needs (test databases included): the permissions, and the
-- roles admin (every "any" permission) and user (every "own" permission). Ids are fixed so
-- later migrations can refer to them.
INSERT INTO "Role" ("id", "name", "description", "createdAt", "updatedAt") VALUES
    ('role_admin', 'admin', 'Manages users, roles, every training and the GPU fleet', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('role_user', 'user', 'Creates and runs their own trainings', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP);

INSERT INTO "Permission" ("id", "action", "entity", "access", "description", "createdAt", "updatedAt") VALUES
    ('perm_create_user_own', 'create', 'user', 'own', 'Create their own user', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('perm_create_user_any', 'create', 'user', 'any', 'Create any user', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('perm_read_user_own', 'read', 'user', 'own', 'Read their own user', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('perm_read_user_any', 'read', 'user', 'any', 'Read any user', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('perm_update_user_own', 'update', 'user', 'own', 'Update their own user', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('perm_update_user_any', 'update', 'user', 'any', 'Update any user', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('perm_delete_user_own', 'delete', 'user', 'own', 'Delete their own user', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('perm_delete_user_any', 'delete', 'user', 'any', 'Delete any user', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('perm_create_role_own', 'create', 'role', 'own', 'Create their own role', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('perm_create_role_any', 'create', 'role', 'any', 'Create any role', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('perm_read_role_own', 'read', 'role', 'own', 'Read their own role', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('perm_read_role_any', 'read', 'role', 'any', 'Read any role', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('perm_update_role_own', 'update', 'role', 'own', 'Update their own role', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('perm_update_role_any', 'update', 'role', 'any', 'Update any role', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('perm_delete_role_own', 'delete', 'role', 'own', 'Delete their own role', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('perm_delete_role_any', 'delete', 'role', 'any', 'Delete any role', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('perm_create_training_own', 'create', 'training', 'own', 'Create their own training', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('perm_create_training_any', 'create', 'training', 'any', 'Create any training', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('perm_read_training_own', 'read', 'training', 'own', 'Read their own training', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('perm_read_training_any', 'read', 'training', 'any', 'Read any training', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('perm_update_training_own', 'update', 'training', 'own', 'Update their own training', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('perm_update_training_any', 'update', 'training', 'any', 'Update any training', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('perm_delete_training_own', 'delete', 'training', 'own', 'Delete their own training', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('perm_delete_training_any', 'delete', 'training', 'any', 'Delete any training', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('perm_create_run_own', 'create', 'run', 'own', 'Create their own run', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('perm_create_run_any', 'create', 'run', 'any', 'Create any run', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('perm_read_run_own', 'read', 'run', 'own', 'Read their own run', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('perm_read_run_any', 'read', 'run', 'any', 'Read any run', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('perm_update_run_own', 'update', 'run', 'own', 'Update their own run', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('perm_update_run_any', 'update', 'run', 'any', 'Update any run', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('perm_delete_run_own', 'delete', 'run', 'own', 'Delete their own run', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('perm_delete_run_any', 'delete', 'run', 'any', 'Delete any run', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('perm_create_gpu_own', 'create', 'gpu', 'own', 'Create their own gpu', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('perm_create_gpu_any', 'create', 'gpu', 'any', 'Create any gpu', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('perm_read_gpu_own', 'read', 'gpu', 'own', 'Read their own gpu', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('perm_read_gpu_any', 'read', 'gpu', 'any', 'Read any gpu', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('perm_update_gpu_own', 'update', 'gpu', 'own', 'Update their own gpu', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('perm_update_gpu_any', 'update', 'gpu', 'any', 'Update any gpu', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('perm_delete_gpu_own', 'delete', 'gpu', 'own', 'Delete their own gpu', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('perm_delete_gpu_any', 'delete', 'gpu', 'any', 'Delete any gpu', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP);

INSERT INTO "_PermissionToRole" ("A", "B") VALUES
    ('perm_create_user_own', 'role_user'),
    ('perm_create_user_any', 'role_admin'),
    ('perm_read_user_own', 'role_user'),
    ('perm_read_user_any', 'role_admin'),
    ('perm_update_user_own', 'role_user'),
    ('perm_update_user_any', 'role_admin'),
    ('perm_delete_user_own', 'role_user'),
    ('perm_delete_user_any', 'role_admin'),
    ('perm_create_role_own', 'role_user'),
    ('perm_create_role_any', 'role_admin'),
    ('perm_read_role_own', 'role_user'),
    ('perm_read_role_any', 'role_admin'),
    ('perm_update_role_own', 'role_user'),
    ('perm_update_role_any', 'role_admin'),
    ('perm_delete_role_own', 'role_user'),
    ('perm_delete_role_any', 'role_admin'),
    ('perm_create_training_own', 'role_user'),
    ('perm_create_training_any', 'role_admin'),
    ('perm_read_training_own', 'role_user'),
    ('perm_read_training_any', 'role_admin'),
    ('perm_update_training_own', 'role_user'),
    ('perm_update_training_any', 'role_admin'),
    ('perm_delete_training_own', 'role_user'),
    ('perm_delete_training_any', 'role_admin'),
    ('perm_create_run_own', 'role_user'),
    ('perm_create_run_any', 'role_admin'),
    ('perm_read_run_own', 'role_user'),
    ('perm_read_run_any', 'role_admin'),
    ('perm_update_run_own', 'role_user'),
    ('perm_update_run_any', 'role_admin'),
    ('perm_delete_run_own', 'role_user'),
    ('perm_delete_run_any', 'role_admin'),
    ('perm_create_gpu_own', 'role_user'),
    ('perm_create_gpu_any', 'role_admin'),
    ('perm_read_gpu_own', 'role_user'),
    ('perm_read_gpu_any', 'role_admin'),
    ('perm_update_gpu_own', 'role_user'),
    ('perm_update_gpu_any', 'role_admin'),
    ('perm_delete_gpu_own', 'role_user'),
    ('perm_delete_gpu_any', 'role_admin');
