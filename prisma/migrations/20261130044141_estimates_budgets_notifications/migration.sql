-- AlterTable
ALTER TABLE "Role" ADD COLUMN "monthlyBudgetHours" REAL;
ALTER TABLE "Role" ADD COLUMN "monthlyBudgetUsd" REAL;

-- AlterTable
ALTER TABLE "TrainingRun" ADD COLUMN "estimate" TEXT;
ALTER TABLE "TrainingRun" ADD COLUMN "estimatedCostUsd" REAL;
ALTER TABLE "TrainingRun" ADD COLUMN "estimatedSeconds" INTEGER;
ALTER TABLE "TrainingRun" ADD COLUMN "notifiedAt" DATETIME;

-- CreateTable
CREATE TABLE "RecoveryCode" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "codeHash" TEXT NOT NULL,
    "usedAt" DATETIME,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "userId" TEXT NOT NULL,
    CONSTRAINT "RecoveryCode_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "PriceQuote" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "kind" TEXT NOT NULL,
    "region" TEXT NOT NULL,
    "instanceType" TEXT NOT NULL,
    "zone" TEXT NOT NULL DEFAULT '',
    "pricePerHour" REAL NOT NULL,
    "fetchedAt" DATETIME NOT NULL
);

-- RedefineTables
PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_User" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "email" TEXT NOT NULL,
    "name" TEXT,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL,
    "huggingFaceToken" TEXT,
    "monthlyBudgetUsd" REAL,
    "monthlyBudgetHours" REAL,
    "notifyRunSucceeded" BOOLEAN NOT NULL DEFAULT true,
    "notifyRunFailed" BOOLEAN NOT NULL DEFAULT true,
    "notifyRunStopped" BOOLEAN NOT NULL DEFAULT true
);
INSERT INTO "new_User" ("createdAt", "email", "huggingFaceToken", "id", "name", "updatedAt") SELECT "createdAt", "email", "huggingFaceToken", "id", "name", "updatedAt" FROM "User";
DROP TABLE "User";
ALTER TABLE "new_User" RENAME TO "User";
CREATE UNIQUE INDEX "User_email_key" ON "User"("email");
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;

-- CreateIndex
CREATE UNIQUE INDEX "RecoveryCode_userId_codeHash_key" ON "RecoveryCode"("userId", "codeHash");

-- CreateIndex
CREATE UNIQUE INDEX "PriceQuote_kind_region_instanceType_zone_key" ON "PriceQuote"("kind", "region", "instanceType", "zone");

-- Runs that ended before end-of-run emails existed are not emailed about now.
UPDATE "TrainingRun" SET "notifiedAt" = "finishedAt" WHERE "finishedAt" IS NOT NULL;
