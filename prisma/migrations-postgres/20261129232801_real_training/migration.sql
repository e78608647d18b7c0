-- AlterTable
ALTER TABLE "User" ADD COLUMN     "huggingFaceToken" TEXT;

-- AlterTable
ALTER TABLE "TrainingRun" ADD COLUMN     "errorDetail" TEXT,
ADD COLUMN     "errorKind" TEXT,
ADD COLUMN     "phases" TEXT;

-- AlterTable
ALTER TABLE "TrainingStatus" ADD COLUMN     "phase" TEXT;

