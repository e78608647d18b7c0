-- AlterTable
ALTER TABLE "User" ADD COLUMN     "monthlyBudgetHours" DOUBLE PRECISION,
ADD COLUMN     "monthlyBudgetUsd" DOUBLE PRECISION,
ADD COLUMN     "notifyRunFailed" BOOLEAN NOT NULL DEFAULT true,
ADD COLUMN     "notifyRunStopped" BOOLEAN NOT NULL DEFAULT true,
ADD COLUMN     "notifyRunSucceeded" BOOLEAN NOT NULL DEFAULT true;

-- AlterTable
ALTER TABLE "Role" ADD COLUMN     "monthlyBudgetHours" DOUBLE PRECISION,
ADD COLUMN     "monthlyBudgetUsd" DOUBLE PRECISION;

-- AlterTable
ALTER TABLE "TrainingRun" ADD COLUMN     "estimate" TEXT,
ADD COLUMN     "estimatedCostUsd" DOUBLE PRECISION,
ADD COLUMN     "estimatedSeconds" INTEGER,
ADD COLUMN     "notifiedAt" TIMESTAMP(3);

-- CreateTable
CREATE TABLE "RecoveryCode" (
    "id" TEXT NOT NULL,
    "codeHash" TEXT NOT NULL,
    "usedAt" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "userId" TEXT NOT NULL,

    CONSTRAINT "RecoveryCode_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "PriceQuote" (
    "id" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "region" TEXT NOT NULL,
    "instanceType" TEXT NOT NULL,
    "zone" TEXT NOT NULL DEFAULT '',
    "pricePerHour" DOUBLE PRECISION NOT NULL,
    "fetchedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "PriceQuote_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "RecoveryCode_userId_codeHash_key" ON "RecoveryCode"("userId", "codeHash");

-- CreateIndex
CREATE UNIQUE INDEX "PriceQuote_kind_region_instanceType_zone_key" ON "PriceQuote"("kind", "region", "instanceType", "zone");

-- AddForeignKey
ALTER TABLE "RecoveryCode" ADD CONSTRAINT "RecoveryCode_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE;


-- Runs that ended before end-of-run emails existed are not emailed about now.
UPDATE "TrainingRun" SET "notifiedAt" = "finishedAt" WHERE "finishedAt" IS NOT NULL;
