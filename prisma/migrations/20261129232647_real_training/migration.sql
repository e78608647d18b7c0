-- AlterTable
ALTER TABLE "TrainingRun" ADD COLUMN "errorDetail" TEXT;
ALTER TABLE "TrainingRun" ADD COLUMN "errorKind" TEXT;
ALTER TABLE "TrainingRun" ADD COLUMN "phases" TEXT;

-- AlterTable
ALTER TABLE "TrainingStatus" ADD COLUMN "phase" TEXT;

-- AlterTable
ALTER TABLE "User" ADD COLUMN "huggingFaceToken" TEXT;
